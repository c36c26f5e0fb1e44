#!/usr/bin/env python3
"""PyTorch baseline for bench_training's local-training figures: the same 784-128-10 MLP (ReLU,
softmax cross-entropy), SGD with learning rate 0.01 and momentum 0.9, 20,000 random rows, batches
of 32 and 512 drawn from a fresh shuffle each epoch, on the GPU and on one CPU thread.

The loop is the one a PyTorch user would write for speed: the data sits on the device before
timing starts, and the loss is summed on the device, read once per run rather than once per step.
Prints samples per second, in bench_training's wording, so the two can be read side by side.

    python3 tests/bench/torch_mlp.py
"""
import time

import torch


def throughput(device, batch, epochs):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(20000, 784, generator=gen).to(device)
    y = (torch.arange(20000) % 10).to(device)
    model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    per_epoch = x.shape[0] // batch

    def run(n_epochs):
        total = torch.zeros((), device=device)
        for _ in range(n_epochs):
            order = torch.randperm(x.shape[0], device=device)
            for b in range(per_epoch):
                rows = order[b * batch:(b + 1) * batch]
                loss = loss_fn(model(x[rows]), y[rows])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach() * batch
        return total.item()  # waits for the device

    run(1)  # warm-up: kernels chosen, caches filled
    t0 = time.perf_counter()
    run(epochs)
    return epochs * per_epoch * batch / (time.perf_counter() - t0)


def main():
    torch.set_num_threads(1)
    for batch in (32, 512):
        cpu = throughput("cpu", batch, 1)
        print(f"PyTorch {torch.__version__}, CPU, 784-128-10 MLP, batch {batch}: {cpu:.0f} samples/s (one thread)")
        if torch.cuda.is_available():
            gpu = throughput("cuda", batch, 3 if batch < 512 else 20)
            print(f"PyTorch, GPU ({torch.cuda.get_device_name(0)}), same model, batch {batch}: {gpu:.0f} samples/s "
                  f"({gpu / cpu:.1f}x its CPU)")
        else:
            print("PyTorch, GPU: none")


if __name__ == "__main__":
    main()
