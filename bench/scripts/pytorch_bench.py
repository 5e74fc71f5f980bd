#!/usr/bin/env python3
"""Reference numbers from PyTorch on the same machine, for `sharpgpt bench --compare`.

A GPT-2 124M (random weights, same shapes as SharpGPT's bench) written the usual way in PyTorch:
GEMM GFLOP/s of the four block shapes, training tokens/s (B=4, T=256, forward + backward + AdamW),
prefill tokens/s (256-token prompt), decode tokens/s with a KV cache, and peak memory.
Prints one JSON object. Run it with Debian's python3-torch; the "tuned" variant is the same script with
LD_PRELOAD=libjemalloc and OPENBLAS_CORETYPE=SkylakeX (set by the caller).
"""
import json, math, resource, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
quick = "--quick" in sys.argv
torch.set_num_threads(threads)
torch.manual_seed(0)
V, P, C, L, H = 50257, 1024, 768, 12, 12
repeats = 2 if quick else 5


def median_seconds(fn, minimum=0.0):
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter(); n = 0
        while True:
            fn(); n += 1
            if time.perf_counter() - start >= minimum:
                break
        samples.append((time.perf_counter() - start) / n)
    samples.sort()
    return samples[len(samples) // 2]


def attention(q, k, v, causal):
    """softmax(q·kᵀ/√d)·v, causal over the last T keys. torch ≥ 2.0 has a fused kernel; Debian's 1.13 does not,
    so fall back to the textbook form there (what GPT-2 code did before 2.0)."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))
    if causal:
        Tq, Tk = q.size(-2), k.size(-2)
        mask = torch.ones(Tq, Tk, dtype=torch.bool).tril(diagonal=Tk - Tq)
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.c_attn, self.c_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.c_fc, self.mlp_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def forward(self, x, cache=None):
        B, T, _ = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            if cache[0] is not None:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[0], cache[1] = k, v
        y = attention(q, k, v, causal=cache is None or T > 1)
        x = x + self.c_proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(P, C)
        self.h = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = nn.LayerNorm(C)

    def forward(self, idx, caches=None, start=0):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(start, start + T))
        for i, block in enumerate(self.h):
            x = block(x, caches[i] if caches else None)
        return self.ln_f(x) @ self.wte.weight.T


results = {"threads": threads, "torch": torch.__version__}
rows = 256 if quick else 1024
for name, n, k in [("qkv", 3 * C, C), ("attn.proj", C, C), ("mlp.fc", 4 * C, C), ("mlp.proj", C, 4 * C)]:
    a, w = torch.randn(rows, k), torch.randn(n, k)
    seconds = median_seconds(lambda: a @ w.T, 0.2)
    results[f"gemm {name}"] = 2 * rows * n * k / seconds / 1e9

model = GPT()
B, T = (1, 64) if quick else (4, 256)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), weight_decay=0.1)
tokens = torch.randint(0, V, (B, T)); targets = torch.randint(0, V, (B, T))
def train_step():
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(tokens).view(-1, V), targets.view(-1))
    loss.backward()
    optimizer.step()
results["training tokens/s"] = B * T / median_seconds(train_step)
# Peak resident set so far: the interpreter, torch, the GEMM stage (small) and training.
results["training peak memory GiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024

prompt = torch.randint(0, V, (1, 64 if quick else 256))
with torch.no_grad():
    results["prefill tokens/s"] = prompt.shape[1] / median_seconds(lambda: model(prompt)[:, -1])
    steps = 8 if quick else 64
    def decode():
        # A 16-token prompt, then only the decode loop is timed (as in SharpGPT's bench).
        caches = [[None, None] for _ in range(L)]
        token = model(prompt[:, :16], caches, 0)[:, -1:].argmax(-1)
        start = time.perf_counter()
        for i in range(steps):
            token = model(token, caches, 16 + i)[:, -1:].argmax(-1)
        return time.perf_counter() - start
    decode()
    samples = sorted(decode() for _ in range(repeats))
    results["decode tokens/s"] = steps / samples[len(samples) // 2]
results["peak memory GiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
print(json.dumps(results))
