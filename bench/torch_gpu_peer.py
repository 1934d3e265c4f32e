"""GPU peer for the webgpu benchmark: a BERT-base DPR context encoder in PyTorch, same shapes.

Run on a machine with CUDA next to `deno task bench --backends webgpu`; prints JSON lines like
bench/main.ts (`passage_encoding` batch 16 x 256, `question_latency` 1 x 32), float32.
Uses transformers' DPRContextEncoder with random weights when transformers is installed, else an
equivalent torch.nn.TransformerEncoder (same matrix shapes and FLOPs).
"""
import json
import statistics
import time

import torch


def build():
    try:
        from transformers import DPRConfig, DPRContextEncoder

        model = DPRContextEncoder(DPRConfig()).eval()
        return "transformers.DPRContextEncoder", lambda ids: model(input_ids=ids).pooler_output, model
    except Exception:  # transformers absent: an equivalent encoder stack
        emb = torch.nn.Embedding(30522, 768)
        layer = torch.nn.TransformerEncoderLayer(768, 12, 3072, activation="gelu", batch_first=True)
        enc = torch.nn.TransformerEncoder(layer, 12, enable_nested_tensor=False)
        model = torch.nn.Sequential(emb, enc).eval()
        return "torch.nn.TransformerEncoder", lambda ids: model(ids)[:, 0], model


def timed(fn, ids, iters):
    times = []
    with torch.inference_mode():
        for _ in range(3):
            fn(ids)
        torch.cuda.synchronize()
        for _ in range(iters):
            t = time.perf_counter()
            fn(ids)
            torch.cuda.synchronize()
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    name, fn, model = build()
    model.cuda()
    device = torch.cuda.get_device_name(0)
    ids = torch.randint(1000, 30000, (16, 256), device="cuda")
    ms = timed(fn, ids, 20)
    print(json.dumps({"bench": "passage_encoding", "engine": f"pytorch-cuda ({name}, fp32)",
                      "device": device, "batch": 16, "seq": 256, "median_ms": round(ms, 2),
                      "passages_per_s": round(16000 / ms, 1)}))
    q = torch.randint(1000, 30000, (1, 32), device="cuda")
    ms = timed(fn, q, 50)
    print(json.dumps({"bench": "question_latency", "engine": f"pytorch-cuda ({name}, fp32)",
                      "device": device, "batch": 1, "seq": 32, "median_ms": round(ms, 3)}))


if __name__ == "__main__":
    main()
