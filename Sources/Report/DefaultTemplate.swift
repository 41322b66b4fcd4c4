// A copy of templates/report.html.mustache compiled into the binary, so `gpt2lab report` works
// without the checkout. ReportTests checks the two are identical: edit both.

/// The built-in report template (see `loadReportTemplate`).
public let defaultReportTemplate = #"""
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>{{title}}</title>
<style>
  body { font: 15px/1.5 "DejaVu Sans", system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d232a;
         max-width: 1240px; margin: 2em auto; padding: 0 1.5em; background: #fff; }
  h1 { font-size: 1.7em; margin: 0 0 .2em; }
  h2 { font-size: 1.25em; margin: 2em 0 .6em; border-bottom: 1px solid #dde2e7; padding-bottom: .2em; }
  p.lede { color: #4a5560; margin-top: 0; }
  .note { background: #f4f7fb; border-left: 4px solid #5b8def; padding: .6em 1em; margin: 1em 0; }
  table { border-collapse: collapse; width: 100%; font-size: 13.5px; }
  th, td { padding: .45em .6em; border-bottom: 1px solid #e6e9ed; vertical-align: top; text-align: left; }
  th { background: #f6f8fa; font-weight: 600; white-space: nowrap; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  td.num small { display: block; color: #6a737d; font-size: 11.5px; }
  td.run { min-width: 14em; max-width: 22em; }
  td.run span.desc { display: block; color: #5a6570; font-size: 12px; margin-top: .15em; }
  td.completion { font-family: "DejaVu Sans Mono", monospace; font-size: 11.5px; min-width: 12em; max-width: 18em; overflow-wrap: anywhere; }
  tr.baseline td { background: #fbfbf4; }
  tr.reference td { background: #f4f8fb; }
  span.tag { font-size: 11px; color: #6a737d; border: 1px solid #d0d7de; border-radius: 3px; padding: 0 .3em; margin-left: .3em; }
  td.noise { color: #8a6d00; }
  td.better { color: #1a7f37; font-weight: 600; }
  td.worse { color: #b42318; font-weight: 600; }
  td.unclear { color: #57606a; }
  figure { margin: 1.5em 0; }
  figure img { max-width: 100%; height: auto; border: 1px solid #eef0f2; }
  figcaption { color: #4a5560; font-size: 13.5px; margin-top: .3em; }
  dl.settings { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1.2em; font-size: 14px; }
  dl.settings dt { color: #6a737d; }
  dl.settings dd { margin: 0; }
  ul.methods li { margin-bottom: .4em; }
  code { font-family: "DejaVu Sans Mono", monospace; font-size: .92em; background: #f6f8fa; padding: 0 .2em; }
  div.segments h4 { font-size: 1em; margin: 1.2em 0 .4em; }
  p.segment { font-family: "DejaVu Sans Mono", monospace; font-size: 13px; line-height: 1.9; white-space: pre-wrap; overflow-wrap: anywhere; margin: .4em 0; padding: .3em .5em; border: 1px solid #eef0f2; }
  p.segment span.where { display: block; font-family: "DejaVu Sans", sans-serif; font-size: 12px; color: #6a737d; white-space: normal; }
  p.segment span.tok { border-radius: 2px; }
  footer { margin-top: 3em; color: #8b949e; font-size: 12.5px; }
</style>
</head>
<body>
<h1>{{title}}</h1>
<p class="lede">{{#description}}{{description}} {{/description}}Test set <code>{{test_set}}</code>: {{tokens_scored}} tokens scored in {{windows}} windows of {{context}} (stride {{stride}}). Every run is scored on the same windows.</p>
{{#reference_note}}<p class="note"><strong>Reference.</strong> {{reference_note}}</p>{{/reference_note}}
{{#sequential}}<p class="note"><strong>Sequential scoring.</strong> Each run was compared with {{baseline}} on the same windows, read in one seeded random order (seed {{seed}}), until the interval of the paired Δ was at most ±{{half_width}} nats (after at least {{min_windows}} windows) or every window was read. Each loss is on the windows that run read (the count is under it); {{baseline}}'s on the most any run needed.</p>{{/sequential}}
{{#seed_noise}}<p class="note"><strong>Seed noise.</strong> Runs {{runs}} differ only in their random seed; their losses differ by {{half_width}} nats. A Δ inside ±{{half_width}} is marked “in the noise”; outside it a run is “better” (Δ &lt; 0) or “worse”.</p>{{/seed_noise}}

<h2>Results</h2>
<table>
<thead>
<tr><th>run</th><th>test loss<br />[{{level}}% CI]</th><th>Δ vs {{baseline}}<br />[{{level}}% CI]</th><th>p</th><th>verdict</th><th>gap to<br />{{reference}}<br />closed</th><th>‖θ‖²<br />(decay group)</th><th>AdamW τ<br />steps</th>{{#has_stack}}<th>expected if additive</th>{{/has_stack}}{{#has_hessian}}<th>Hessian trace</th>{{/has_hessian}}<th>completion<br />(greedy; <em>sample</em>)</th></tr>
</thead>
<tbody>
{{#rows}}
<tr class="{{row_class}}"><td class="run"><strong>{{name}}</strong>{{#identical_to}}<span class="tag">identical to {{identical_to}}</span>{{/identical_to}}<span class="desc">{{description}}</span></td><td class="num">{{loss}}<small>{{loss_ci}}</small>{{#read}}<small>{{read}}</small>{{/read}}</td><td class="num">{{delta}}<small>{{delta_ci}}</small></td><td class="num">{{p}}</td><td class="{{verdict_class}}">{{verdict}}</td><td class="num">{{gap}}</td><td class="num">{{sum_sq}}<small>{{decay_sum_sq}}</small></td><td class="num">{{tau}}</td>{{#has_stack}}<td class="num">{{#additive}}{{additive}}<small>{{stack_of}}</small>{{/additive}}</td>{{/has_stack}}{{#has_hessian}}<td class="num">{{hessian}}</td>{{/has_hessian}}<td class="completion">{{#completion_greedy}}{{completion_greedy}}{{/completion_greedy}}{{^completion_greedy}}—{{/completion_greedy}}{{#completion_sample}}<br /><em>sample:</em> {{completion_sample}}{{/completion_sample}}</td></tr>
{{/rows}}
</tbody>
</table>

{{#evals}}
<h2>{{title}}</h2>
<table>
<thead>
<tr><th>run</th><th>test loss</th><th>{{metric}}<br />[{{level}}% CI]</th>{{#is_hellaswag}}<th>acc<br />[{{level}}% CI]</th>{{/is_hellaswag}}{{^is_hellaswag}}<th>ppl</th>{{/is_hellaswag}}<th>Δ {{metric}} vs {{baseline}}<br />[{{level}}% CI]</th><th>p<br />(McNemar)</th><th>right only here / only in {{baseline}}</th></tr>
</thead>
<tbody>
{{#rows}}
<tr class="{{row_class}}"><td class="run"><strong>{{name}}</strong></td><td class="num">{{loss}}</td><td class="num">{{value}}<small>{{value_ci}}</small></td>{{#is_hellaswag}}<td class="num">{{acc}}<small>{{acc_ci}}</small></td>{{/is_hellaswag}}{{^is_hellaswag}}<td class="num">{{ppl}}</td>{{/is_hellaswag}}<td class="num">{{delta}}<small>{{delta_ci}}</small></td><td class="num">{{p}}</td><td class="num">{{discordant}}</td></tr>
{{/rows}}
</tbody>
</table>
{{/evals}}

{{#has_per_token}}
<h2>Per-token comparison with {{baseline}}</h2>
<table>
<thead>
<tr><th>run</th><th>tokens used<br />(windows)</th><th>loss {{baseline}} → run</th><th>mean Δ</th><th>median Δ</th><th>KL({{baseline}}‖run)<br />mean</th><th>top-1<br />agreement</th></tr>
</thead>
<tbody>
{{#per_token}}
<tr><td class="run"><strong>{{run}}</strong></td><td class="num">{{tokens}}<small>{{windows}} windows</small></td><td class="num">{{loss_a}} → {{loss_b}}</td><td class="num">{{delta}}</td><td class="num">{{median}}</td><td class="num">{{kl}}</td><td class="num">{{top1}}</td></tr>
{{/per_token}}
</tbody>
</table>
{{#per_token}}
<h3>{{run}} vs {{baseline}}</h3>
{{#figures}}
<figure><img src="{{file}}" alt="{{alt}}" /><figcaption>{{caption}}</figcaption></figure>
{{/figures}}
<h4>Where the loss moved, by how frequent the next token is</h4>
<p>Types ranked by their count in {{frequency_source}}; Δ = NLL<sub>{{run}}</sub> − NLL<sub>{{baseline}}</sub> over the bucket's tokens, with its paired interval (windows resampled).</p>
<table>
<thead>
<tr><th>target token</th><th>tokens</th><th>loss {{baseline}}</th><th>loss {{run}}</th><th>Δ<br />[95% CI]</th><th>p</th></tr>
</thead>
<tbody>
{{#frequency}}
<tr><td>{{label}}<span class="desc">{{types}}</span></td><td class="num">{{tokens}}</td><td class="num">{{loss_a}}</td><td class="num">{{loss_b}}</td><td class="num">{{delta}}<small>{{delta_ci}}</small></td><td class="num">{{p}}</td></tr>
{{/frequency}}
</tbody>
</table>
<h4>Next-token calibration: ECE {{ece_a}} ({{baseline}}), {{ece_b}} ({{run}})</h4>
{{#calibration_figure}}
<figure><img src="{{file}}" alt="{{alt}}" /><figcaption>{{caption}}</figcaption></figure>
{{/calibration_figure}}
<div class="segments">
<h4>Where {{run}} gains most (lowest mean Δ over {{segment_length}} tokens)</h4>
{{#gains}}<p class="segment"><span class="where">{{delta_mean}} nats/token · {{where}}</span>{{#tokens}}<span class="tok" style="{{style}}" title="{{title}}">{{text}}</span>{{/tokens}}</p>
{{/gains}}
<h4>Where {{run}} loses most (highest mean Δ)</h4>
{{#losses}}<p class="segment"><span class="where">{{delta_mean}} nats/token · {{where}}</span>{{#tokens}}<span class="tok" style="{{style}}" title="{{title}}">{{text}}</span>{{/tokens}}</p>
{{/losses}}
</div>
{{/per_token}}
{{/has_per_token}}

<h2>Charts</h2>
{{#charts}}
<figure><img src="{{file}}" alt="{{alt}}" /><figcaption>{{caption}}</figcaption></figure>
{{/charts}}

<h2>How to read this</h2>
<ul class="methods">
<li><strong>Test loss</strong> is Σ NLL / Σ tokens over all windows (nats per token). Its CI is a percentile bootstrap over windows: {{bootstrap}} resamples of the windows with replacement (seed {{seed}}), the loss recomputed from the resampled windows' NLL sums and token counts.</li>
<li><strong>Δ vs {{baseline}}</strong> is run − baseline; negative is better. Its CI is a <em>paired</em> bootstrap: each resample draws one set of windows for both runs, so passages that are hard for every model cancel. The two-sided <strong>p</strong> is 2·min(P(Δ* ≤ 0), P(Δ* ≥ 0)) over the resamples, floored at 1/B = {{p_floor}}. It measures only test-set sampling noise (which windows happen to be in the test set), not training noise.</li>
<li><strong>Verdict</strong>: “in the noise” when |Δ| is no larger than the seed-noise half-width (the largest loss difference between runs that differ only in their seed). This is training noise, which the p-value does not see: two seeds of one recipe can differ “significantly” on a fixed test set. A Δ is worth believing when it is both significant and outside the band. One pair of seeds is a rough yardstick, not a distribution. Outside the band a run is “better” (Δ &lt; 0) or “worse” (Δ &gt; 0). Runs of the seed group are in the noise by definition only when the group holds the baseline; otherwise they are compared like any run. Without a seed group the verdict is “better” or “worse” when the paired CI excludes 0, else “unclear”.</li>
{{#sequential}}<li><strong>Sequential</strong>: with <code>ci</code> in the manifest, the bootstrap and p-value above are replaced. The windows are a finite population read without replacement in a random order, so after n of N windows the loss is the ratio estimate Σ NLL / Σ tokens and Δ the same estimate of the per-window differences run − {{baseline}}; each interval is ± t<sub>n−1</sub> · √((1 − n/N) · Σ(y<sub>i</sub> − R̂x<sub>i</sub>)² / ((n − 1) n x̄²)) (Cochran §6.4), exact when every window is read. Gap closed and the seed band use the paired Δs.</li>{{/sequential}}
<li><strong>% of gap closed</strong> = (L<sub>baseline</sub> − L<sub>run</sub>) / (L<sub>baseline</sub> − L<sub>reference</sub>) · 100.</li>
<li><strong>‖θ‖²</strong>: sum of squares of all stored parameters (small print: the decay group, tensors with two or more dimensions).</li>
<li><strong>AdamW τ</strong> = 1/(η·λ) optimizer steps, the window over which AdamW's weights average their updates (Wang &amp; Aitchison); in brackets, τ as a fraction of the run's steps; for checkpoints holding AdamW state, the average effective learning rate, the mean over every optimizer-state element of lr/(√v + ε).</li>
{{#has_stack}}<li><strong>Expected if additive</strong>: the sum of the parts' Δ, to set beside a stacked run's measured Δ.</li>{{/has_stack}}
{{#has_completion}}<li><strong>Completion</strong>: 20 new tokens after the prompt, greedy (argmax); in italics one sample at temperature 1, top-k 40, seed {{sample_seed}}. ↵ marks a newline. A smoke test that the checkpoint loads and writes English, not a quality measure.</li>{{/has_completion}}
{{#evals}}<li><strong>{{title}}</strong>: {{metric}} is the share of examples the run gets right, with a Wilson score interval. Δ vs {{baseline}} is on the same examples (a paired normal interval), and p is McNemar's exact test, which only looks at the examples exactly one of the two runs gets right (last column).</li>{{/evals}}
{{#has_per_token}}<li><strong>Per-token comparison</strong>: both runs on the report's first windows, up to the manifest's <code>per_token_max_tokens</code>, token by token. Δ = NLL<sub>run</sub> − NLL<sub>{{baseline}}</sub> per token (negative: the run predicts it better); KL({{baseline}}‖run) is of the two next-token distributions, averaged over tokens; top-1 agreement is the share of tokens where both runs' most likely next token is the same. Loss by position shows whether a run uses long context better. The frequency table puts each token in the bucket of its target's rank among token types by count (1–10, 11–100, 101–1,000, 1,001–10,000, beyond, and unseen when counted from a separate file); its interval is the paired bootstrap of the results table restricted to the bucket's tokens, resampling whole windows. Calibration: confidence is a run's largest next-token probability, a token is right when that most likely token is the next one; ECE = Σ<sub>b</sub> (n<sub>b</sub>/N)·|accuracy<sub>b</sub> − confidence<sub>b</sub>| over 15 equal-width confidence bins, 0 for a perfectly calibrated run. Segments are runs of consecutive scored tokens within a window, ranked by their mean Δ (windows and positions count from 0, as in <code>gpt2lab compare</code>); each token is green where the run is better and red where it is worse, fully coloured at |Δ| ≥ 3 nats (hover for its Δ); ↵ marks a newline.</li>{{/has_per_token}}
{{#has_hessian}}<li><strong>Hessian trace</strong>: Hutchinson estimate on the first 4 windows of {{context}} tokens, ± 1.96 standard errors.</li>{{/has_hessian}}
</ul>

<h2>Settings</h2>
<dl class="settings">
<dt>manifest</dt><dd><code>{{manifest}}</code></dd>
<dt>test set</dt><dd><code>{{test_set}}</code>, {{test_tokens}} tokens{{#skip}}, first {{skip}} skipped{{/skip}}{{#max_tokens}}, {{max_tokens}} used{{/max_tokens}}</dd>
<dt>windows</dt><dd>{{windows}} of {{context}} tokens, stride {{stride}}; {{tokens_scored}} tokens scored</dd>
<dt>bootstrap</dt><dd>{{bootstrap}} resamples, seed {{seed}}, {{level}}% intervals</dd>
<dt>engine</dt><dd>{{engine}}</dd>
<dt>precision</dt><dd>{{precision}}</dd>
{{#shape_sources}}<dt>heads from</dt><dd>{{shape_sources}}</dd>{{/shape_sources}}
</dl>
<footer>Made by <code>gpt2lab report</code>. Numbers: <a href="results.json">results.json</a>, <a href="results.csv">results.csv</a>.</footer>
</body>
</html>

"""#
