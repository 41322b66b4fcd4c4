#!/usr/bin/env python3
"""Writes the small HellaSwag- and LAMBADA-format test files gpt2lab's eval tests use.

The real data sets cannot be downloaded here, so these are built from Jane Austen's *Persuasion* (public domain,
the fixtures' test text) in exactly the published formats:

- hellaswag.jsonl: one object a line with ind, activity_label, ctx_a, ctx_b, ctx (= ctx_a + " " + ctx_b, or ctx_a
  when ctx_b is empty, as in hellaswag_val.jsonl), endings (4), label, split, split_type, source_id. The context is
  a sentence of the novel plus the first words of the next; the true ending is the rest of that next sentence, the
  three others are the rests of sentences taken from elsewhere in the book. Some items are WikiHow-style, with
  "[header]", "[title]", "[step]" and "[substeps]" markers, to exercise lm-eval's clean-up; one has a context
  longer than the fixture models' 256 positions (left truncation).
- lambada.jsonl: one {"text": ...} a line (lambada_openai's format): a passage of consecutive words of the novel
  ending on a plain word (no trailing punctuation), a few longer than 256 tokens.

Deterministic (seeded). Usage: make_fixtures.py PERSUASION.txt OUT_DIR (the committed files: examples/evals)
"""
import json
import random
import re
import sys


def sentences(text: str):
    text = text.replace("<|endoftext|>", "\n")
    flat = re.sub(r"\s+", " ", text)
    out = re.split(r"(?<=[.!?])\s+(?=[A-Z\"])", flat)
    return [s.strip() for s in out if 8 <= len(s.split()) <= 40 and '"' not in s]


def main() -> int:
    src, out_dir = sys.argv[1], sys.argv[2]
    text = open(src, encoding="utf-8").read()
    rng = random.Random(18)
    sents = sentences(text)
    items = []
    picks = rng.sample(range(len(sents) - 1), 44)
    for n, i in enumerate(picks):
        a, nxt = sents[i], sents[i + 1].split()
        k = rng.randint(2, 4)
        ctx_b = " ".join(nxt[:k])
        ctx_b = ctx_b[0].lower() + ctx_b[1:]
        true_end = " ".join(nxt[k:])
        if n % 11 == 5:   # an item whose ctx_b is empty, as some HellaSwag items have
            ctx_a, ctx_b = a + " " + " ".join(nxt[:k]), ""
        else:
            ctx_a = a
        others = []
        while len(others) < 3:
            j = rng.randrange(len(sents))
            if abs(j - i) > 2:
                w = sents[j].split()
                if len(w) > k + 2:
                    others.append(" ".join(w[rng.randint(2, 4):]))
        label = rng.randrange(4)
        endings = others[:label] + [true_end] + others[label:]
        items.append({"activity_label": f"Persuasion, chapter {1 + i * 24 // len(sents)}", "ctx_a": ctx_a, "ctx_b": ctx_b,
                      "endings": endings, "label": label, "source_id": f"persuasion~{i}"})
    # WikiHow-style items: bracket markers that lm-eval's preprocess removes (" [title]" -> ". ", "[...]" dropped).
    wiki = [
        ("Reading novels", "[header] How to read a novel by Jane Austen [title] Choose a quiet evening.", "[step] find",
         ["a comfortable chair near the fire and open the first chapter.", "the [substeps] Kellynch Hall estate on a map.",
          "the captain in the navy and marry him.", "that the Baronetage is on the table, [title] Close the book."]),
        ("Letter writing", "[header] How to write a letter [title] Gather your paper and pen.", "[step] begin",
         ["with the date [substeps] and the name of the person you write to.", "to dance at the assembly rooms in Bath.",
          "the gardens, [title] which are wet in November.", "with   two   spaces   between   the   words."]),
        ("Travel", "[header] How to travel to Bath [title] Plan the journey in advance.", "",
         ["[step] Hire a carriage, and leave early in the morning.", "The sailor [title] smiled at the admiral.",
          "Lady Russell said nothing [in reply].", "Bring [a] [b] [c] three umbrellas."]),
        ("Walking", "[header] How to take a long walk [title] Wear stout shoes.", "[step] walk",
         ["to Winthrop by the field path [substeps] and rest on the stile.", "into the sea at Lyme [title] and swim.",
          "the [unclosed bracket to the end", "away from the party [and]] ignore them."]),
        ("Family", "[header] How to  keep a family  peace [title] Listen before you speak.", "[step] say",
         ["little, and let each sister feel she has been heard.", "that Mary is ill [title] again.",
          "the wrong thing at dinner.", "]nothing[ at all."]),
        ("Navy", "[header] How to welcome an admiral [title] Prepare the house.", "[step] ask",
         ["the servants to air the rooms [substeps] and light the fires.", "for a ship of the line.",
          "Captain Wentworth to the [title] concert.", "questions about the war in the West Indies."]),
    ]
    for n, (label_act, ctx_a, ctx_b, endings) in enumerate(wiki):
        items.insert(3 + 7 * n, {"activity_label": label_act, "ctx_a": ctx_a, "ctx_b": ctx_b, "endings": endings,
                                 "label": 0 if n % 2 == 0 else (n % 4), "source_id": f"wikihow~{n}"})
    # One context longer than 256 tokens: left truncation.
    long_a = " ".join(sents[10:32])
    items.append({"activity_label": "Persuasion, a long context", "ctx_a": long_a, "ctx_b": "and then",
                  "endings": ["she walked home.", "the ship sailed.", "nothing happened at all.", "they danced."],
                  "label": 0, "source_id": "persuasion~long"})
    with open(f"{out_dir}/hellaswag.jsonl", "w", encoding="utf-8") as f:
        for n, it in enumerate(items):
            ctx = it["ctx_a"] + (" " + it["ctx_b"] if it["ctx_b"] else "")
            row = {"ind": n, "activity_label": it["activity_label"], "ctx_a": it["ctx_a"], "ctx_b": it["ctx_b"],
                   "ctx": ctx, "endings": it["endings"], "source_id": it["source_id"], "split": "val",
                   "split_type": "indomain", "label": it["label"]}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")

    words = re.sub(r"\s+", " ", text.replace("<|endoftext|>", " ")).split(" ")
    passages = []
    starts = sorted(rng.sample(range(2000, len(words) - 400), 48))
    for n, s in enumerate(starts):
        length = rng.randint(30, 80) if n % 12 != 7 else rng.randint(260, 320)
        e = s + length
        while not re.fullmatch(r"[A-Za-z]+", words[e - 1]):
            e += 1
        passages.append(" ".join(words[s:e]))
    passages.append("Anne")   # one word: the context is empty, so lm-eval's recipe puts <|endoftext|> before it
    with open(f"{out_dir}/lambada.jsonl", "w", encoding="utf-8") as f:
        for p in passages:
            f.write(json.dumps({"text": p}, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
