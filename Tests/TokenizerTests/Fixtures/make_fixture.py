#!/usr/bin/env python3
"""Writes tiktoken_gpt2.json: tricky strings and their ids under tiktoken's `gpt2` encoding.

This is the independent reference for TokenizerTests (never regenerate it with gpt2lab). Offline: the merge ranks
come from the shared fixture file instead of tiktoken's download cache. Run from the package root:

    pip install tiktoken   # 0.14.0 when generated
    python3 Tests/TokenizerTests/Fixtures/make_fixture.py ../shared/fixtures/tokenizer/gpt2.tiktoken
"""
import json
import pathlib
import random
import sys

import tiktoken
import tiktoken.load

# tiktoken's own gpt2/r50k_base pattern (tiktoken_ext/openai_public.py).
PAT_STR = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

STRINGS = [
    "Every effort moves you",
    "Hello, world!",
    "",
    " ",
    "  ",
    "a",
    "I'm sure they'll say it's what we've done, you'd've thought; they're right.",
    "IT'S SHE'LL WE'VE I'M THEY'RE YOU'D DON'T",
    "rock'n'roll 'tis ''' 's 'S x'sy",
    "1234567890 3.14159 -42 1,000,000 0x1F 2024-01-01",
    "Ⅷ ½ ² ٣ 𝟘 ① numbers",
    "word  two   three    four",
    "trailing spaces   ",
    "   leading spaces",
    "tabs\tand\t\ttabs \t mixed",
    "line one\nline two\n\nline four\n\n\n",
    "\r\n windows \r\n\r\nline endings",
    "\n\n\n\n\n",
    " \n \n ",
    "nbsp\u00a0here and\u2003em space and\u3000ideographic",
    "日本語のテキストと中文文本",
    "한국어 텍스트",
    "Привет, мир! Ελληνικά",
    "مرحبا بالعالم",
    "emoji 😀 👍🏽 family 👨\u200d👩\u200d👧\u200d👦 flag 🇯🇵",
    "combining e\u0301 a\u0300 n\u0303 vs é à ñ",
    "Zalgo t\u0336\u0335e\u0337x\u0338t\u0334",
    "math ∑ ∫ ≤ ≥ → ∞ ∂x/∂y",
    "code: def f(x): return x**2 + 1  # comment",
    "{\"json\": [1, 2, 3], \"key\": null}",
    "https://example.com/path?query=1&b=2#frag",
    "user@example.com   $100.00 100% ~~~ ... !!! ???",
    "hello<|endoftext|>world",
    "<|endoftext|>",
    "a<|endoftext|><|endoftext|>b",
    "<|endoftext",
    "-----------------------------------------------------------------",
    "                                                                ",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "Mr. Darcy's estate; Captain Wentworth's letter — \u201cI can listen no longer\u201d",
    "soft\u00adhyphen zero\u200bwidth joiner\u200dx",
    "ǅungla ʰmodifier ᾈtitle",
    "\u0085next line\u2028line sep\u2029para sep\u000bvt\u000cff",
    "\u001cfile sep\u001funit sep",
    # Long pre-tokens (gpt2lab merges these with a heap instead of tiktoken's quadratic scan).
    " " * 3000 + "x",
    "ha" * 1000,
    "\n" * 1500 + "=" * 700,
]



def random_strings(count: int = 150, seed: int = 2024) -> list[str]:
    """Seeded random strings over pattern-relevant ASCII plus scalars from every plane in use (letters, numbers,
    marks, spaces, unassigned), to catch character-class differences the hand-picked strings miss."""
    rng = random.Random(seed)
    ascii_bits = list("ab Z9 ' \t\n\r.!-") + ["'s", "'S", "'ll", "  ", " \n", "<|endoftext|>"]
    scalars = [c for c in range(0x80, 0x32000) if not 0xD800 <= c < 0xE000] + list(range(0xE0000, 0xE0080))
    out = []
    for _ in range(count):
        parts = [rng.choice(ascii_bits) if rng.random() < 0.5 else chr(rng.choice(scalars))
                 for _ in range(rng.randint(1, 16))]
        out.append("".join(parts))
    return out


def main() -> None:
    ranks = tiktoken.load.load_tiktoken_bpe(sys.argv[1])
    enc = tiktoken.Encoding(name="gpt2", pat_str=PAT_STR, mergeable_ranks=ranks,
                            special_tokens={"<|endoftext|>": 50256})
    cases = []
    for text in STRINGS + random_strings():
        cases.append({
            "text": text,
            "ids": enc.encode(text, allowed_special={"<|endoftext|>"}),
            "ordinary_ids": enc.encode_ordinary(text),
        })
    out = pathlib.Path(__file__).with_name("tiktoken_gpt2.json")
    lines = ",\n".join("  " + json.dumps(case, ensure_ascii=True) for case in cases)
    header = json.dumps(f"tiktoken {tiktoken.__version__}, gpt2 encoding")
    out.write_text(f'{{"generator": {header},\n "cases": [\n{lines}\n]}}\n')
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main()
