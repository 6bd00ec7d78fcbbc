"""Per-turn latency of the hf policy over a 10-turn conversation: KV-cache reuse vs re-encoding the
whole history every turn, same model, same run, printed side by side with the ratio.

    .venv/bin/python bench/latency.py                         # tiny random-init model (~4M) on CPU
    .venv/bin/python bench/latency.py --model ~/.resto/models/demo
    .venv/bin/python bench/latency.py --qwen3-1.7b            # full-size random-init Qwen3-1.7B config
                                                              # (meant for a GPU; bf16 on CUDA)
    .venv/bin/python bench/latency.py --qwen3-1.7b --quantization 4bit   # the same, NF4 via bitsandbytes

Each turn generates exactly --new-tokens tokens (random weights never stop on their own), so both
policies do the same decoding work and differ only in how much of the prompt they prefill. The
history between turns is the reference conversation (not the model's output), so the cache is
cropped to the longest common prefix each turn, as in a real session. On CUDA it also reports
decode tokens/s against the memory-bandwidth bound (weights bytes / bandwidth: about 1,400 tokens/s
for Qwen3-1.7B's 3.4 GB of bf16 weights on an H200's 4.8 TB/s), the peak GPU memory, and the reuse
pass again with PyTorch's default attention kernels (cuDNN on Hopper; agent.attention says why not).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.conversation import ToolCall, user_message  # noqa: E402
from agent.model_loading import LoadedModel, load_model  # noqa: E402
from agent.policies.hf import HFPolicy  # noqa: E402

H200_BANDWIDTH = 4.8e12  # bytes/s (HBM3e)


def conversation(turns: int = 10) -> list[dict]:
    """A benchmark-shaped conversation with `turns` assistant decisions (search, results, replies)."""
    msgs: list[dict] = []
    cities = ["San Jose", "Oakland", "Napa", "Berkeley", "Fairfield"]
    for t in range(turns):
        city = cities[t % len(cities)]
        msgs.append(user_message(f"Turn {t}: I'd like a moderately priced Italian place in {city}, maybe with live music."))
        if t % 3 == 1:
            call = ToolCall("FindRestaurants", {"city": city, "cuisine": "Italian", "price_range": "moderate"})
            msgs.append(call.to_message())
            msgs.append(user_message(
                f'[{{"city": "{city}", "cuisine": "Italian", "restaurant_name": "Trattoria {t}", '
                '"phone_number": "408-555-0100", "price_range": "moderate", "has_live_music": "True", '
                '"serves_alcohol": "True", "street_address": "1 Main Street"}]'
            ))
        msgs.append(ToolCall("respond_to_user", {"message": f"How about Trattoria {t} in {city}? It has live music. "
                                                 "Shall I book a table, and for how many people?"}).to_message())
    return msgs


def decision_points(msgs: list[dict]) -> list[list[dict]]:
    return [msgs[:i] for i, m in enumerate(msgs) if m["role"] == "assistant"]


def full_size_qwen3(device: str, tokenizer_dir: Path, out_dir: Path, quantization: str | None) -> LoadedModel:
    """Random-init model with Qwen3-1.7B's configuration (agent.full_size, no download), the tiny
    tokenizer's ids, written to disk and loaded back through `load_model` like any local model (so
    `--quantization 4bit` goes through the same bitsandbytes path as `resto chat`)."""
    import gc

    import torch

    from agent.full_size import build_full_size_model

    dtype = "bf16" if device.startswith("cuda") else "fp32"
    build_full_size_model(out_dir, tokenizer_dir, "qwen3-1.7b", dtype=dtype, device=device)
    gc.collect()
    if device.startswith("cuda"):  # the peak printed at the end is the loaded model's, not the build's
        torch.cuda.empty_cache()
    loaded = load_model(str(out_dir), device=device, quantization=quantization)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    loaded.description = f"random-init Qwen3-1.7B config ({quantization or dtype}, {device})"
    return loaded


def run(policy: HFPolicy, points: list[list[dict]]) -> list:
    """One pass over the decision points from an empty cache."""
    policy.reset()
    return [policy.next_call(p) for p in points]


def pass_summary(steps: list) -> tuple[float, float, float]:
    """(mean and worst time to first token in ms, median decode tokens/s) of one pass."""
    ttft = [s.time_to_first_token_s * 1000 for s in steps]
    rate = statistics.median((s.completion_tokens - 1) / (s.latency_s - s.time_to_first_token_s) for s in steps)
    return statistics.mean(ttft), max(ttft), rate


def cudnn_comparison(loaded: LoadedModel, points: list[list[dict]], new_tokens: int, ours: list, ours_total: float) -> None:
    """The reuse pass again with PyTorch's own attention choice (cuDNN on Hopper), after the same warm-up.
    Its lengths are new to cuDNN (the passes above ran without it), as in a freshly started process."""
    import torch

    default = HFPolicy(loaded, max_new_tokens=new_tokens, reuse_cache=True, avoid_cudnn_attention=False)
    default._stop_ids = set()
    run(default, points[:2])
    default.reset()
    torch.cuda.synchronize()
    start = time.perf_counter()
    steps = run(default, points)
    torch.cuda.synchronize()
    total = time.perf_counter() - start
    (ttft, worst, rate), (our_ttft, our_worst, our_rate) = pass_summary(steps), pass_summary(ours)
    print("\nreuse pass, attention kernels: without cuDNN (the policy's choice, agent.attention) vs PyTorch's default")
    print(f"  total {ours_total:.2f}s vs {total:.2f}s ({total / ours_total:.2f}x); time to first token mean "
          f"{our_ttft:.0f} vs {ttft:.0f} ms, worst {our_worst:.0f} vs {worst:.0f} ms; decode {our_rate:.0f} vs "
          f"{rate:.0f} tokens/s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model directory or hub id (default: a fresh tiny model)")
    parser.add_argument("--qwen3-1.7b", dest="full", action="store_true", help="random-init Qwen3-1.7B config")
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--new-tokens", type=int, default=32, help="tokens generated per turn")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--quantization", choices=["4bit", "8bit"], help="bitsandbytes quantization (CUDA only)")
    args = parser.parse_args(argv)

    import torch

    from agent.model_loading import default_device
    from agent.tiny import TinyConfig, build_tiny_model, build_tokenizer

    device = args.device or default_device()
    tmp = tempfile.TemporaryDirectory()
    if args.model:
        loaded = load_model(args.model, device=device, quantization=args.quantization)
    elif args.full:
        build_tokenizer(Path(tmp.name) / "tokenizer")
        loaded = full_size_qwen3(device, Path(tmp.name) / "tokenizer", Path(tmp.name) / "full", args.quantization)
    else:
        tiny_dir = build_tiny_model(Path(tmp.name) / "tiny", TinyConfig())
        loaded = load_model(str(tiny_dir), device=device, quantization=args.quantization)
    # bytes as stored: 4-bit weights are packed two to a byte (their numel counts the packed bytes)
    weight_bytes = sum(p.numel() * p.element_size() for p in loaded.model.parameters())
    print(f"model: {loaded.description}, {weight_bytes / 1e9:.2f} GB of weights, {device}", flush=True)
    points = decision_points(conversation(args.turns))
    reuse = HFPolicy(loaded, max_new_tokens=args.new_tokens, reuse_cache=True)
    fresh = HFPolicy(loaded, max_new_tokens=args.new_tokens, reuse_cache=False)
    # block the stop tokens so every turn decodes exactly --new-tokens tokens in both runs
    reuse._stop_ids = fresh._stop_ids = set()
    run(reuse, points[:2])  # warm-up (allocator, kernels)
    run(fresh, points[:1])
    reuse.reset()
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    # interleaved turn by turn, so load from other processes hits both sides alike
    with_cache, without, total_a, total_b = [], [], 0.0, 0.0
    for point in points:
        sync()
        t0 = time.perf_counter()
        with_cache.append(reuse.next_call(point))
        sync()
        t1 = time.perf_counter()
        without.append(fresh.next_call(point))
        sync()
        total_a += t1 - t0
        total_b += time.perf_counter() - t1

    print(f"{args.turns} user turns = {len(points)} model decisions, {args.new_tokens} new tokens each\n")
    print(f"{'step':>4} {'prompt':>7} {'cached':>7} {'reuse s':>9} {'re-encode s':>12} {'ratio':>6}")
    for i, (a, b) in enumerate(zip(with_cache, without, strict=True)):
        print(f"{i + 1:>4} {a.prompt_tokens:>7} {a.cached_tokens:>7} {a.latency_s:>9.3f} {b.latency_s:>12.3f} "
              f"{b.latency_s / a.latency_s:>6.2f}")
    print(f"\ntotal: reuse {total_a:.2f}s, re-encode {total_b:.2f}s -> re-encoding is {total_b / total_a:.2f}x slower")
    ttft_a = statistics.mean(s.time_to_first_token_s for s in with_cache)
    ttft_b = statistics.mean(s.time_to_first_token_s for s in without)
    print(f"mean time to first token: reuse {ttft_a * 1000:.1f} ms, re-encode {ttft_b * 1000:.1f} ms "
          f"({ttft_b / ttft_a:.2f}x)")
    decode = [(s.completion_tokens - 1) / (s.latency_s - s.time_to_first_token_s) for s in with_cache]
    rate = statistics.median(decode)
    line = f"decode: {rate:.0f} tokens/s (median over turns, batch 1, eager PyTorch loop)"
    if device.startswith("cuda"):
        bound = H200_BANDWIDTH / weight_bytes
        name = torch.cuda.get_device_name()
        line += f"; bandwidth bound {bound:.0f} tokens/s ({weight_bytes / 1e9:.2f} GB at 4.8 TB/s, {name}) "
        line += f"-> {rate / bound:.0%} of the bound"
    print(line)
    if device.startswith("cuda"):
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB allocated")
        cudnn_comparison(loaded, points, args.new_tokens, with_cache, total_a)
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
