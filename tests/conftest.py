import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def wordnet(tmp_path_factory):
    """The real WordNet 3.0, loaded offline through a fresh cache directory."""
    from lexicons import require_wordnet

    from knowledge_graphs.wordnet import load_wordnet

    return load_wordnet(require_wordnet(), cache_dir=tmp_path_factory.mktemp("wordnet-cache"))


@pytest.fixture(autouse=True, scope="session")
def _user_cache(tmp_path_factory):
    """Datasets cache their parsed annotations in a folder of the user's: in the tests (all of
    them, module fixtures included), a temporary one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ITER_REASONING_CACHE", str(tmp_path_factory.mktemp("user-cache")))
        yield


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory, wordnet):
    """The demo at 2% of its size: its output folder and its result."""
    from iterative_reasoning.demos.classification import DemoConfig, run_demo

    out = tmp_path_factory.mktemp("demo")
    result = run_demo(out, DemoConfig().scaled(0.02), progress=False, lexicon=wordnet)
    return out, result


@pytest.fixture(scope="session")
def coco_mini():
    """The 80 real COCO train2017 photos and their original annotations of the project's
    shared samples (``ITER_REASONING_REAL_SAMPLES/coco_mini``): ``(images, annotations)``;
    the test is skipped when they are absent."""
    import os

    root = os.environ.get("ITER_REASONING_REAL_SAMPLES")
    folder = Path(root) / "coco_mini" if root else None
    if folder is None or not (folder / "instances_train2017.json").is_file():
        pytest.skip("the real COCO samples (ITER_REASONING_REAL_SAMPLES/coco_mini) are absent")
    return folder / "train2017", folder / "instances_train2017.json"
