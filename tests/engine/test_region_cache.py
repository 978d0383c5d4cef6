import copy

import pytest
import torch
from helpers import assert_same_state, small_region_model

from iterative_reasoning.data.synthetic import SyntheticScenes
from iterative_reasoning.engine import TrainConfig, train
from iterative_reasoning.engine.region_cache import RegionCache
from iterative_reasoning.models import RegionModel, collate_regions


def _frozen(cache=None, seed=0):
    """A small frozen ConvNet with a final head; the ConvNet's weights are the same for every
    seed, the head's are drawn from ``seed``."""
    model = small_region_model()
    torch.manual_seed(seed)
    for p in model.head.parameters():
        torch.nn.init.normal_(p, std=0.1)
    return RegionModel(model.convnet, model.head, freeze_convnet=True, region_cache=cache)


@pytest.fixture(scope="module")
def batch():
    data = SyntheticScenes(3, seed=0)
    return collate_regions([data[0], data[1]])


def _inputs(batch):
    return batch.images, batch.boxes, batch.image_sizes


def test_the_same_inputs_are_computed_once(batch):
    convnet = _frozen().convnet
    cache = RegionCache()
    with torch.no_grad():
        first = cache(convnet, *_inputs(batch))
        again = cache(convnet, batch.images.clone(), [b.clone() for b in batch.boxes],
                      batch.image_sizes.clone())  # fmt: skip
        plain = convnet(*_inputs(batch))
    assert (cache.hits, cache.misses, len(cache)) == (1, 1, 1)
    for kept, hit, computed in zip(first, again, plain, strict=True):
        if not isinstance(computed, torch.Tensor):  # no masks; the crop that made the crops
            assert kept is hit is computed
            continue
        assert torch.equal(kept, computed) and torch.equal(hit, computed)
    assert plain.crops is not None  # kept with the rest, for the head
    tensors = [t for t in plain if isinstance(t, torch.Tensor)]
    assert cache.nbytes == sum(t.numel() * t.element_size() for t in tensors)


@pytest.mark.parametrize("change", ["image", "box", "size", "order"])
def test_other_inputs_run_the_convnet(batch, change):
    convnet = _frozen().convnet
    cache = RegionCache()
    images, boxes, sizes = batch.images.clone(), [b.clone() for b in batch.boxes], None
    sizes = batch.image_sizes.clone()
    if change == "image":
        images[1, 0, 5, 5] += 1e-6
    elif change == "box":
        boxes[0][0, 0] += 0.5
    elif change == "size":
        sizes[0, 0] -= 16
    else:  # the same images in the other order
        images, boxes, sizes = images.flip(0), boxes[::-1], sizes.flip(0)
    with torch.no_grad():
        cache(convnet, *_inputs(batch))
        out = cache(convnet, images, boxes, sizes)
        expected = convnet(images, boxes, sizes)
    assert (cache.hits, cache.misses) == (0, 2)
    assert torch.equal(out.base_logits, expected.base_logits)


def test_weights_are_known_by_their_values(batch):
    cache = RegionCache()
    convnet = _frozen().convnet
    twin = copy.deepcopy(convnet)  # another module, the same numbers
    with torch.no_grad():
        cache(convnet, *_inputs(batch))
        cache(twin, *_inputs(batch))
        assert (cache.hits, cache.misses) == (1, 1)
        next(twin.parameters()).add_(1e-3)  # changed in place: a new digest
        changed = cache(twin, *_inputs(batch))
        assert (cache.hits, cache.misses) == (1, 2)
        assert torch.equal(changed.base_logits, twin(*_inputs(batch)).base_logits)
        twin.load_state_dict(convnet.state_dict())  # and back
        cache(twin, *_inputs(batch))
        twin.train()  # batch norm with batch statistics is another computation
        cache(twin, *_inputs(batch))
    assert (cache.hits, cache.misses) == (2, 3)


@pytest.mark.parametrize("how", ["data", "vector_to_parameters", "buffer_data"])
def test_weights_changed_behind_autograd_s_back_are_seen(batch, how):
    """Changes through .data and vector_to_parameters leave the version counters as they
    were; the cache once answered from before them."""
    convnet = _frozen().convnet
    cache = RegionCache()
    with torch.no_grad():
        cache(convnet, *_inputs(batch))
        if how == "data":
            next(convnet.parameters()).data.mul_(1.5)
        elif how == "vector_to_parameters":
            vector = torch.nn.utils.parameters_to_vector(convnet.parameters())
            torch.nn.utils.vector_to_parameters(vector * 1.1, convnet.parameters())
        else:
            buffer = next(b for n, b in convnet.named_buffers() if "running_var" in n)
            buffer.data.mul_(2.0)
        changed = cache(convnet, *_inputs(batch))
        expected = convnet(*_inputs(batch))
    assert (cache.hits, cache.misses) == (0, 2)
    assert torch.equal(changed.base_logits, expected.base_logits)


def test_a_caller_who_changes_what_it_got_changes_nothing_kept(batch):
    convnet = _frozen().convnet
    cache = RegionCache()
    with torch.no_grad():
        first = cache(convnet, *_inputs(batch))
        expected = first.base_logits.clone()
        first.base_logits.zero_()  # changed in place by the caller
        hit = cache(convnet, *_inputs(batch))
        assert torch.equal(hit.base_logits, expected)
        hit.features.add_(1.0)
        assert torch.equal(cache(convnet, *_inputs(batch)).features, first.features)
    assert (cache.hits, cache.misses) == (2, 1)


def test_autocast_is_part_of_the_key(batch):
    convnet = _frozen().convnet
    cache = RegionCache()
    with torch.no_grad():
        plain = cache(convnet, *_inputs(batch))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = cache(convnet, *_inputs(batch))
    assert (cache.hits, cache.misses) == (0, 2)
    assert plain.base_logits.dtype == torch.float32
    assert mixed.base_logits.dtype == torch.bfloat16


def test_max_bytes_bounds_what_is_kept(batch):
    convnet = _frozen().convnet
    cache = RegionCache(max_bytes=0)
    with torch.no_grad():
        out = cache(convnet, *_inputs(batch))
        cache(convnet, *_inputs(batch))
    assert (cache.hits, cache.misses, len(cache), cache.nbytes) == (0, 2, 0, 0)
    assert torch.equal(out.base_logits, convnet(*_inputs(batch)).base_logits)
    full = RegionCache()
    with torch.no_grad():
        full(convnet, *_inputs(batch))
    full.clear()
    assert (len(full), full.nbytes, full.misses) == (0, 0, 1)


def test_errors(batch):
    with pytest.raises(ValueError, match="max_bytes must be finite and non-negative, got -1"):
        RegionCache(max_bytes=-1)
    with pytest.raises(ValueError, match="max_bytes must be finite and non-negative, got nan"):
        RegionCache(max_bytes=float("nan"))
    model = small_region_model()
    with pytest.raises(RuntimeError, match="under torch.no_grad"):
        RegionCache()(model.convnet, *_inputs(batch))
    with pytest.raises(ValueError, match="region_cache needs freeze_convnet=True"):
        RegionModel(model.convnet, model.head, region_cache=RegionCache())


def test_heads_train_the_same_with_the_cache_and_hit_it(tmp_path):
    """Two heads trained one after another on one cache end with the weights and losses they
    reach without it, and the second computes no ConvNet forward in training."""
    data = SyntheticScenes(6, seed=1)
    config = TrainConfig(steps=4, batch_size=2, lr=0.01, checkpoint_every=2, log_every=1)

    def run(cache, seed, name):
        model = _frozen(cache, seed)
        history = train(model, data, config, tmp_path / name, progress=False, tensorboard=False)
        return model, [h["loss"] for h in history]

    cache = RegionCache()
    cached = [run(cache, seed, f"cached-{seed}") for seed in (0, 1)]
    assert (cache.misses, cache.hits) == (4, 4)
    for seed, (model, losses) in enumerate(cached):
        plain, plain_losses = run(None, seed, f"plain-{seed}")
        assert losses == plain_losses
        assert_same_state(model, plain)
