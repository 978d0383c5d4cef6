"""The long-tail tier's guarantees: frequencies as drawn, rare look-alikes told apart only by
their rule's context, an annotation-only corpus that holds the rare members' context, and the
ceiling as stated."""

import json
from collections import Counter

import numpy as np
import pytest

from iterative_reasoning.data.synthetic import long_tail, tier
from iterative_reasoning.data.synthetic.easy import IMAGE_SIZE
from iterative_reasoning.data.synthetic.long_tail_classes import (
    ABSENT,
    APPEARANCES,
    CONTEXT,
    GROUPS,
    MEMBERS,
    MISLEADING,
    PLAIN,
    PRIOR,
    best_guess,
    class_names,
    tier_of,
)
from iterative_reasoning.data.synthetic.long_tail_layout import PAIRS, members_of, plan


def test_the_classes_are_real_wordnet_nouns_of_distinct_names(wordnet):
    lexicon = wordnet
    names = class_names()
    assert 60 <= len(names) - 1 <= 120 and len(set(names)) == len(names)
    for name, synset in long_tail.CLASSES.items():
        assert lexicon.has_synset(synset), (name, synset)
    # each group's members share one look; every other class has a look of its own
    looks = [APPEARANCES[g.look] for g in GROUPS]
    looks += [APPEARANCES[name] for name in (*CONTEXT, *PLAIN)]
    assert len({(a.shape, a.color, a.period, a.angle) for a in looks}) == len(looks)
    # part-of rules name wholes that WordNet makes the member part of
    parts = {
        "door": "building.n.01",
        "car_door": "car.n.01",
        "window": "bus.n.01",
        "wing": "airplane.n.01",
        "fin": "fish.n.01",
        "beak": "bird.n.01",
    }
    for group in GROUPS:
        if group.rule == "part_of":
            for member, whole in zip(group.members, group.cues, strict=True):
                assert CONTEXT[whole] == parts[member]
                assert MEMBERS[member] in _meronyms(lexicon, parts[member])


def _meronyms(lexicon, synset, depth=3):
    found, frontier = set(), [synset]
    for _ in range(depth):
        frontier = [m for s in frontier for m in lexicon.part_meronyms(s) if m not in found]
        found.update(frontier)
    return found


def test_frequencies_as_drawn_in_800_training_images():
    counts = long_tail.box_counts(0, 800)
    tiers = {name: tier_of(name) for name in counts}
    rare = [counts[n] for n, t in tiers.items() if t == "rare"]
    assert len(rare) == 6 and all(3 <= c <= 10 for c in rare), rare
    assert max(counts.values()) >= 1000  # the commonest plain class
    plain = [counts[name] for name in PLAIN]
    assert plain[0] == max(plain) and plain[0] > 10 * plain[-1]  # Zipf-like
    # each group is in a third of the images; its members follow the prior within two boxes
    for group in GROUPS:
        appearances = sum(counts[m] for m in group.members)
        assert appearances == pytest.approx(800 / 3, abs=10)
        for member, prior in zip(group.members, PRIOR, strict=True):
            assert abs(counts[member] - prior * appearances) <= 2.0, (member, counts[member])


def test_each_image_holds_two_groups_and_every_pair_in_turn():
    seen = Counter()
    for index in range(30):
        chosen = members_of(3, index)
        assert len(chosen) == 2
        seen[tuple(sorted(chosen))] += 1
    assert set(seen) == set(PAIRS) and set(seen.values()) == {2}
    balanced = Counter(m for i in range(900) for m in members_of(4, i, long_tail.BALANCED).values())
    assert all(abs(balanced[m] - 600) <= 3 for m in range(3)), balanced  # 1,800 / 3


def test_a_test_split_holds_boxes_of_every_rare_class():
    counts = long_tail.box_counts(1, 300, balanced=True)
    rare = {n: c for n, c in counts.items() if tier_of(n) == "rare"}
    assert all(c >= 30 for c in rare.values()), rare


def test_the_corpus_holds_the_rare_members_context(tmp_path):
    path = long_tail.write_corpus(tmp_path / "corpus.json", seed=2, count=3000)
    corpus = json.loads(path.read_text())
    names = {c["id"]: c["name"] for c in corpus["categories"]}
    assert [c["name"] for c in corpus["categories"]] == class_names()[1:]
    assert len(corpus["images"]) == 3000
    by_image: dict[int, set[str]] = {}
    for ann in corpus["annotations"]:
        by_image.setdefault(ann["image_id"], set()).add(names[ann["category_id"]])
    for group in GROUPS:
        rare, cue = group.members[2], group.cues[2]
        together = sum(rare in labels and cue in labels for labels in by_image.values())
        alone = sum(rare in labels for labels in by_image.values())
        # the rare member (3000 / 3 * 0.025 = 25 times) with its cue in 88 % of its images
        assert alone >= 20 and together >= 0.7 * alone, (group.name, together, alone)
    # what 800 training images hold of the same: a handful
    train = long_tail.box_counts(0, 800)
    assert all(train[g.members[2]] <= 10 for g in GROUPS)


def test_the_rule_s_context_is_where_the_rule_says():
    for index in range(60):
        scene = plan(5, index)
        regions = scene.regions
        for a in scene.ambiguous:
            group = next(g for g in GROUPS if g.name == a.group)
            (observed,) = a.observed
            box = regions[a.region].box
            if observed is None:
                continue
            if group.rule == "part_of":
                whole = [r.box for r in regions if r.name == observed]
                assert any(_inside(box, w) for w in whole)
            elif group.rule == "layout":
                (ref,) = [r.box for r in regions if r.name == group.cues[0] and _near(box, r.box)]
                dy = (ref[0] + ref[2]) / 2 - (box[0] + box[2]) / 2
                dx = (ref[1] + ref[3]) / 2 - (box[1] + box[3]) / 2
                place = "below" if dy > 20 else "above" if dy < -20 else "left"
                assert place == observed and (place != "left" or dx < -20)
            else:
                assert observed in {r.name for r in regions}


def _inside(a, b):
    return a[0] >= b[0] and a[1] >= b[1] and a[2] <= b[2] and a[3] <= b[3]


def _near(a, b):
    return (
        abs((a[0] + a[2]) / 2 - (b[0] + b[2]) / 2) + abs((a[1] + a[3]) / 2 - (b[1] + b[3]) / 2) < 60
    )


def test_the_ceiling_is_the_share_of_regions_whose_label_is_the_most_probable():
    seed, count = 7, 120
    ceiling = long_tail.ceiling(seed, count, balanced=True)
    regions = undecided = 0
    rare = [0, 0]
    likelihood = {None: ABSENT}
    for index in range(count):
        scene = plan(seed, index, long_tail.BALANCED)
        regions += len(scene.regions)
        for a in scene.ambiguous:
            group = next(g for g in GROUPS if g.name == a.group)
            (observed,) = a.observed
            # the training prior times each member's likelihood of the cue shown
            weights = []
            for member, prior in enumerate(PRIOR):
                value = group.values()[member]
                if observed in likelihood:
                    weights.append(prior * likelihood[observed])
                elif observed == value:
                    weights.append(prior * (1 - ABSENT - MISLEADING))
                else:
                    weights.append(prior * MISLEADING / 2)
            guess = group.members[int(np.argmax(weights))]
            assert guess == a.guess == best_guess(group, observed)
            undecided += guess != a.label
            if tier_of(a.label) == "rare":
                rare[0] += guess == a.label
                rare[1] += 1
    assert ceiling["regions"] == regions
    assert ceiling["instance_ac"] == pytest.approx(100 * (regions - undecided) / regions)
    assert ceiling["tiers"]["rare"] == pytest.approx(100 * rare[0] / rare[1])
    # a rare member is decided exactly when its own cue is shown
    assert 80 < ceiling["tiers"]["rare"] < 95


def test_rendering_follows_the_plan_and_repeats():
    image, instances = long_tail.render(0, 11)
    again, _ = long_tail.render(0, 11)
    assert image.shape == (IMAGE_SIZE, IMAGE_SIZE, 3) and np.array_equal(image, again)
    scene = plan(0, 11)
    assert [i.name for i in instances] == [r.name for r in scene.regions]
    for instance, region in zip(instances, scene.regions, strict=True):
        ys, xs = np.nonzero(instance.mask)
        y1, x1, y2, x2 = region.box
        assert ys.min() >= y1 and ys.max() <= y2 and xs.min() >= x1 and xs.max() <= x2
    draw, synsets = tier("long_tail", balanced=True)
    assert list(synsets) == class_names()[1:]
    assert [i.name for i in draw(0, 11)[1]] == [
        r.name for r in plan(0, 11, long_tail.BALANCED).regions
    ]


def test_bad_sizes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="the corpus needs at least one scene, got 0"):
        long_tail.write_corpus(tmp_path / "c.json", seed=0, count=0)
    with pytest.raises(ValueError, match="is not a class of the long-tail tier"):
        tier_of("unicorn")
