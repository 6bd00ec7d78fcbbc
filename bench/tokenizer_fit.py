"""Tokens per conversation: a BPE tokenizer trained on SGD text vs. one also trained on the rendered
conversations (`agent.tiny.rendered_corpus`), with Qwen's word split, with the "lines" split
(`TinyConfig.pre_tokenizer`: pieces end only at line breaks and digits) and with the "bare" split
(words never carry the character before them, so values copy token for token).

    RESTO_DATA_DIR=../shared/data .venv/bin/python bench/tokenizer_fit.py [--vocab 2048]

Same vocabulary size, same 327 S1 conversations rendered with the inference template and the tool
schemas. Prints the system prompt's tokens, the mean tokens per conversation, the supervised
(assistant-call) tokens, and the ratios, measured side by side in one run. Fewer tokens is less
compute per training step and per generated call.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab", type=int, default=2048)
    args = parser.parse_args()
    from agent.settings import DataDirError, Settings

    try:  # the project's own rule and message (RESTO_DATA_DIR)
        data_dir = Settings().require_data_dir()
    except DataDirError as exc:
        print(exc, file=sys.stderr)
        return 2

    from transformers import AutoTokenizer

    from agent.render import render_conversation
    from agent.tiny import TinyConfig, build_tiny_model, rendered_corpus
    from train.dataset import build_examples
    from train.finetune import default_tools
    from train.sgd_traces import s1_traces

    tools = default_tools()
    traces = s1_traces(data_dir / "sgd")
    texts = rendered_corpus([t.messages for t in traces], tools)
    system = texts[0][: texts[0].index("<|im_start|>user")]
    config = TinyConfig(vocab_size=args.vocab, layers=1, hidden=32, heads=2, kv_heads=1)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        variants = (("SGD text", [], "words"), ("SGD text + rendered", texts, "words"),
                    ("... + rendered, lines", texts, "lines"), ("... + rendered, bare", texts, "bare"))
        for i, (name, extra, split) in enumerate(variants):
            variant = config.model_copy(update={"pre_tokenizer": split})
            tok = AutoTokenizer.from_pretrained(
                build_tiny_model(Path(tmp) / str(i), variant, texts=extra, data_dir=data_dir)
            )
            assert render_conversation(tok, traces[0].messages, tools) == texts[0]
            _, report = build_examples(tok, traces, tools)
            rows[name] = (len(tok(system)["input_ids"]), report.tokens / report.examples, report.supervised_tokens)

    print(f"{len(traces)} S1 conversations, vocabulary {args.vocab}")
    print(f"{'tokenizer trained on':22} {'system prompt':>13} {'mean/conversation':>17} {'supervised':>10}")
    for name, (sys_tokens, mean, supervised) in rows.items():
        print(f"{name:22} {sys_tokens:13d} {mean:17.0f} {supervised:10d}")
    (s0, m0, u0), (s1, m1, u1), (s2, m2, u2), (s3, m3, u3) = rows.values()
    print(f"ratio: the fitted tokenizer reads a conversation in {m1 / m0:.2f}x the tokens "
          f"(system prompt {s1 / s0:.2f}x, supervised {u1 / u0:.2f}x)")
    print(f"ratio: fitted with the lines split, {m2 / m0:.2f}x (system prompt {s2 / s0:.2f}x, supervised "
          f"{u2 / u0:.2f}x); {m2 / m1:.2f}x the fitted word-split tokenizer")
    print(f"ratio: fitted with the bare split, {m3 / m1:.2f}x the fitted word-split tokenizer (system prompt "
          f"{s3 / s1:.2f}x, supervised {u3 / u1:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
