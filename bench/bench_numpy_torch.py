"""Benchmark: the teaching RNN (numpy, the reference solutions) against the same computation
in PyTorch on the CPU, forward plus backward, at a realistic size.

    .venv/bin/python bench/bench_numpy_torch.py [--n-x 64] [--n-a 128] [--m 32] [--t-x 50] [--repeat 5]

The loss is J = sum(da * a) over the hidden states, so both compute the same gradients
(dx, da0, dWax, dWaa, dba); the script checks they agree before timing. PyTorch is not a
dependency of the project (the CPU build is large): without it the script times numpy
alone and says so. `pip install torch==2.13.0` takes the CPU build this machine keeps.
Run by hand, not by `make test`: timings depend on the machine.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder import reference  # noqa: E402

RNN = reference.named("rnn_step_by_step")

rnn_utils = RNN.utils


def best_of(repeat, function):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def numpy_step(ref, ex):
    a, _, caches = ref.rnn_forward(ex["x"], ex["a0"], ex["parameters"])
    return ref.rnn_backward(ex["da"], caches)


def torch_step(torch, ex, dtype):
    """The same forward and backward with torch tensors and autograd."""
    p = {k: torch.tensor(v, dtype=dtype, requires_grad=k in ("Wax", "Waa", "ba")) for k, v in ex["parameters"].items()}
    x = torch.tensor(ex["x"], dtype=dtype, requires_grad=True)
    a0 = torch.tensor(ex["a0"], dtype=dtype, requires_grad=True)
    da = torch.tensor(ex["da"], dtype=dtype)
    a_prev, states = a0, []
    for t in range(x.shape[2]):
        a_prev = torch.tanh(p["Waa"] @ a_prev + p["Wax"] @ x[:, :, t] + p["ba"])
        states.append(a_prev)
    loss = (torch.stack(states, dim=2) * da).sum()
    loss.backward()
    return {"dx": x.grad, "da0": a0.grad, "dWax": p["Wax"].grad, "dWaa": p["Waa"].grad, "dba": p["ba"].grad}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-x", type=int, default=64)
    parser.add_argument("--n-a", type=int, default=128)
    parser.add_argument("--m", type=int, default=32)
    parser.add_argument("--t-x", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ref = RNN.load()
    ex = rnn_utils.example_inputs(seed=0, n_x=args.n_x, n_a=args.n_a, n_y=8, m=args.m, T_x=args.t_x)
    ex["parameters"] = {k: 0.1 * v for k, v in ex["parameters"].items()}  # a trainable scale: tanh not saturated
    print(f"RNN forward + backward, n_x={args.n_x}, n_a={args.n_a}, m={args.m}, T_x={args.t_x}, "
          f"best of {args.repeat}")
    numpy_seconds = best_of(args.repeat, lambda: numpy_step(ref, ex))
    print(f"numpy (the reference solutions, float64)   {1000 * numpy_seconds:8.1f} ms")
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: no comparison (pip install torch==2.13.0 for the CPU build).")
        return
    torch.set_num_threads(max(1, torch.get_num_threads()))
    expected = numpy_step(ref, ex)
    got = {k: v.detach().numpy() for k, v in torch_step(torch, ex, torch.float64).items()}
    assert all(np.allclose(got[k], expected[k], rtol=1e-8, atol=1e-10) for k in expected), "torch disagrees"
    for dtype in (torch.float64, torch.float32):
        seconds = best_of(args.repeat, lambda: torch_step(torch, ex, dtype))
        print(f"PyTorch {torch.__version__} CPU, {str(dtype).split('.')[-1]:7s}           {1000 * seconds:8.1f} ms"
              f"   numpy takes {numpy_seconds / seconds:.2f}x the time of this")


if __name__ == "__main__":
    main()
