import pytest
import torch

from iterative_reasoning.engine.loader import (
    GPU_WORKERS,
    SampleKey,
    SeededSamples,
    StepBatchSampler,
    data_order,
    evaluation_batches,
    sample_seed,
    training_loader,
    workers_for,
)


def test_data_order_is_a_permutation_per_epoch():
    order = [data_order(7, step, 1, seed=1)[0] for step in range(14)]
    assert sorted(order[:7]) == list(range(7)) and sorted(order[7:]) == list(range(7))
    assert order[:7] != order[7:]
    assert data_order(7, 3, 2, seed=1) == order[6:8]


def test_the_step_sampler_starts_anywhere_and_splits_each_step_over_the_processes():
    whole = list(StepBatchSampler(7, batch_size=4, seed=3, start=0, stop=5))
    assert len(whole) == 5 and all(len(batch) == 4 for batch in whole)
    assert [[k.item for k in b] for b in whole] == [data_order(7, s, 4, 3) for s in range(5)]
    # a resumed run's sampler gives the uninterrupted one's batches from its step on
    assert list(StepBatchSampler(7, batch_size=4, seed=3, start=2, stop=5)) == whole[2:]
    # the processes' shares are disjoint positions and together make up each step
    shares = [list(StepBatchSampler(7, 4, 3, 0, 5, rank=r, world=2)) for r in range(2)]
    for step, batch in enumerate(whole):
        together = shares[0][step] + shares[1][step]
        assert sorted(together) == sorted(batch) and len(shares[0][step]) == 2
    assert len(StepBatchSampler(7, 4, 3, start=5, stop=5)) == 0


def test_each_position_has_its_own_augmentation_seed():
    seeds = [sample_seed(11, p) for p in range(200)]
    assert len(set(seeds)) == 200 and all(0 <= s < 2**32 for s in seeds)
    assert seeds == [sample_seed(11, p) for p in range(200)]
    assert seeds[:5] != [sample_seed(12, p) for p in range(5)]
    keys = [k for batch in StepBatchSampler(7, 4, 11, 0, 3) for k in batch]
    assert [k.seed for k in keys] == seeds[:12]  # seeded by position, not by item


class _Draws(torch.utils.data.Dataset):
    def __len__(self):
        return 3

    def __getitem__(self, index):
        return index, torch.rand(2)


def test_seeded_samples_read_with_the_key_s_seed_and_leave_the_caller_s_random_state():
    samples = SeededSamples(_Draws())
    torch.manual_seed(0)
    expected_next = torch.rand(1)
    torch.manual_seed(0)
    first = samples[SampleKey(2, 123)]
    assert torch.equal(torch.rand(1), expected_next)  # the caller's state did not move
    again = samples[SampleKey(2, 123)]
    other = samples[SampleKey(2, 124)]
    assert first[0] == 2 and torch.equal(first[1], again[1])
    assert not torch.equal(first[1], other[1]) and len(samples) == 3


@pytest.mark.parametrize("workers", [0, 2])
def test_the_training_loader_reads_the_sampler_s_batches(workers):
    loader = training_loader(
        _Draws(), list, batch_size=2, seed=4, start=1, stop=4, num_workers=workers
    )
    batches = list(loader)
    assert len(batches) == len(loader) == 3
    assert [[item for item, _ in b] for b in batches] == [data_order(3, s, 2, 4) for s in (1, 2, 3)]
    same = list(training_loader(_Draws(), list, batch_size=2, seed=4, start=1, stop=4,
                                num_workers=0))  # fmt: skip
    for b, s in zip(batches, same, strict=True):  # the same draws with and without workers
        assert all(torch.equal(x[1], y[1]) for x, y in zip(b, s, strict=True))


def test_workers_by_default_and_evaluation_in_order():
    assert workers_for(None, "cpu") == 0 and workers_for(None, "cuda:0") == GPU_WORKERS
    assert workers_for(3, "cpu") == 3
    batches = list(evaluation_batches(_Draws(), list, batch_size=2, num_workers=0))
    assert [[item for item, _ in b] for b in batches] == [[0, 1], [2]]
