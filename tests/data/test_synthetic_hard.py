import itertools

import numpy as np
import pytest

from iterative_reasoning.data.synthetic.easy import IMAGE_SIZE, shape_mask
from iterative_reasoning.data.synthetic.hard import (
    ABSENT,
    APPEARANCES,
    CLASSES,
    CLUTTER,
    FAR_CUE_DISTANCE,
    GROUPS,
    MISLEADING,
    NEAR_CUE_RANGE,
    OCCLUDED,
    best_guess,
    ceiling,
    class_names,
    posterior,
    render,
)
from iterative_reasoning.data.synthetic.hard_layout import box_gap, plan

GROUP = {g.name: g for g in GROUPS}
MEMBERS = {m: g for g in GROUPS for m in g.members}
NEAR_CUES = {"lantern": "panel", "table": "band"}
FAR_CUES = {"keyboard": "oval", "cheese": "oval", "nest": "oval", "lamp": "band", "tree": "band"}


def test_deterministic_from_the_seed():
    a, instances_a = render(3, 5)
    b, instances_b = render(3, 5)
    c, _ = render(4, 5)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert [i.name for i in instances_a] == [i.name for i in instances_b]
    assert all(
        np.array_equal(x.mask, y.mask) for x, y in zip(instances_a, instances_b, strict=True)
    )
    assert plan(3, 5) == plan(3, 5) and plan(3, 5) != plan(3, 6)
    assert ceiling(3, 20) == ceiling(3, 20)


def _centre(box):
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _where(cue, target):
    """A near cue's place read from its box: its angle from the vertical through its target
    (straight, diagonal or level)."""
    (cy, cx), (ty, tx) = _centre(cue), _centre(target)
    angle = np.degrees(np.arctan2(abs(cx - tx), abs(cy - ty)))
    return "above" if angle < 22.5 else "diagonal" if angle < 67.5 else "level"


def _context(scene):
    """What a scene shows about each group, read from its drawn regions alone: the near cue
    objects (with their place) and the far ones, each with its distance to the group's
    ambiguous box."""
    boxes = {a.group: scene.regions[a.region].box for a in scene.ambiguous}
    near, far = {}, {}
    for thing in scene.regions:
        if thing.name in NEAR_CUES:
            group = NEAR_CUES[thing.name]
            where = _where(thing.box, boxes[group])
            if thing.name == "table":
                where = "below" if where == "above" else where
            value = f"{thing.name}_{where}"
            near.setdefault(group, set()).add((value, box_gap(thing.box, boxes[group])))
        if thing.name in FAR_CUES:
            group = FAR_CUES[thing.name]
            far.setdefault(group, set()).add((thing.name, box_gap(thing.box, boxes[group])))
    return near, far


def test_the_global_module_s_edges_cannot_tell_the_near_cues_apart():
    """Between an ambiguous region and its near cue, every member gives the same edge types (the
    cue above the panel or below the band, to either side) and centre distances from the same
    range; only the angle differs."""
    from collections import defaultdict

    seen = defaultdict(lambda: defaultdict(list))
    for index in range(300):
        scene = plan(31, index)
        for a in scene.ambiguous:
            target = scene.regions[a.region].box
            for thing in scene.regions:
                if NEAR_CUES.get(thing.name) != a.group:
                    continue
                (cy, cx), (ty, tx) = _centre(thing.box), _centre(target)
                vertical = "above" if cy < ty else "below" if cy > ty else "level"
                horizontal = "left" if cx < tx else "right" if cx > tx else "level"
                seen[a.group][a.observed[0]].append(
                    (vertical, horizontal, float(np.hypot(cy - ty, cx - tx)))
                )
    for group, by_value in seen.items():
        assert len(by_value) == len(GROUP[group].cues[0].values)
        ranges = []
        for value, edges in by_value.items():
            assert {v for v, _, _ in edges} == {"above" if group == "panel" else "below"}, value
            assert {h for _, h, _ in edges} == {"left", "right"}, value
            distances = [d for _, _, d in edges]
            ranges.append((min(distances), max(distances)))
        lows, highs = zip(*ranges, strict=True)
        assert max(lows) - min(lows) < 2.5 and max(highs) - min(highs) < 2.5, ranges


def test_near_cues_lie_beyond_a_crop_and_within_the_local_module_s_reach():
    """The near cues (lantern, table) lie 36-60 pixels from their ambiguous box: beyond the 31
    pixels a ConvNet crop sees, within the 64 of the local module's read; the far cue objects at
    least 80 pixels away, beyond both. Nothing but clutter lies within a crop's reach of an
    ambiguous object or of a near cue."""
    lo, hi = NEAR_CUE_RANGE
    assert lo > 31 and hi <= 16 + 48 and FAR_CUE_DISTANCE > 31 + 48
    seen_near = seen_far = 0
    for index in range(60):
        scene = plan(11, index)
        near, far = _context(scene)
        for group, marks in near.items():
            for _, distance in marks:
                assert lo <= distance <= hi, (index, group, distance)
                seen_near += 1
        for group, cues in far.items():
            assert len(cues) == 1
            (_, distance) = next(iter(cues))
            assert distance >= FAR_CUE_DISTANCE, (index, group, distance)
            seen_far += 1
        for thing in scene.regions:
            if thing.name not in MEMBERS and thing.name not in NEAR_CUES:
                continue
            box = thing.box
            for other in scene.regions:
                if other.box != box and box_gap(other.box, box) <= 31:
                    assert other.name in CLUTTER, (index, thing.name, other.name)
            assert min(box) >= 31 and max(box) < IMAGE_SIZE - 31
    assert seen_near > 60 and seen_far > 60


def _brute_force_guess(group, observed):
    """The most probable member, by enumerating the generator's outcomes: each member with its
    prior, each cue absent, true or misleading (towards each other value), kept where the
    outcome is what the image shows."""
    best, best_p = None, -1.0
    for m, member in enumerate(group.members):
        p_member = 0.0
        outcomes = []
        for cue in group.cues:
            options = [(None, ABSENT)]
            for k, value in enumerate(cue.values):
                true = k == cue.of_member[m]
                options.append(
                    (value, 1 - ABSENT - MISLEADING if true else MISLEADING / (len(cue.values) - 1))
                )
            outcomes.append(options)
        for combo in itertools.product(*outcomes):
            if tuple(v for v, _ in combo) == observed:
                p_member += group.prior[m] * float(np.prod([p for _, p in combo]))
        if p_member > best_p + 1e-15:
            best, best_p = member, p_member
    return best


def test_the_ceiling_matches_a_brute_force_count():
    """From the drawn scenes alone: which cue each group shows, the most probable member by
    enumeration, and the share of regions where it is the label; equal to ceiling()."""
    seed, count = 13, 40
    regions = undecided = 0
    per_group = {g.name: [0, 0] for g in GROUPS}
    for index in range(count):
        scene = plan(seed, index)
        near, far = _context(scene)
        regions += len(scene.regions)
        for a in scene.ambiguous:
            group = GROUP[a.group]
            shown = []
            for cue in group.cues:
                found = (near if cue.reach == "near" else far).get(a.group, set())
                values = sorted({v for v, _ in found})  # two wheels show one value
                assert len(values) <= 1
                shown.append(values[0] if values else None)
            assert tuple(shown) == a.observed
            right = _brute_force_guess(group, tuple(shown)) == a.label
            undecided += not right
            per_group[a.group][0] += right
            per_group[a.group][1] += 1
    want = ceiling(seed, count)
    assert want["regions"] == regions
    assert want["instance_ac"] == pytest.approx(100.0 * (regions - undecided) / regions)
    for g, (hit, total) in per_group.items():
        assert want["groups"][g] == pytest.approx(100.0 * hit / total)
    assert 0 < undecided < count * len(GROUPS)


def test_the_posterior_matches_the_generator_s_frequencies():
    counts: dict[tuple, dict[str, int]] = {}
    for index in range(4000):
        for a in plan(17, index).ambiguous:
            counts.setdefault((a.group, a.observed), {}).setdefault(a.label, 0)
            counts[(a.group, a.observed)][a.label] += 1
    checked = 0
    for (group, observed), labels in counts.items():
        n = sum(labels.values())
        if n < 300:
            continue
        want = posterior(GROUP[group], observed)
        got = np.asarray([labels.get(m, 0) / n for m in GROUP[group].members])
        assert np.abs(got - want).max() < 4.5 * np.sqrt(0.25 / n), (group, observed)
        checked += 1
    assert checked >= 8


def test_cues_are_absent_misleading_and_occluded_at_their_rates():
    absent = misleading = total = drawn = hidden = 0
    for index in range(1500):
        scene = plan(19, index)
        for a in scene.ambiguous:
            group = GROUP[a.group]
            m = group.members.index(a.label)
            for cue, value in zip(group.cues, a.observed, strict=True):
                total += 1
                absent += value is None
                misleading += value is not None and value != cue.values[cue.of_member[m]]
        names = [d.name for d in scene.drawn]
        for k, name in enumerate(names):
            if name in FAR_CUES:
                drawn += 1
                hidden += (
                    k + 1 < len(names)
                    and names[k + 1] is None
                    and (scene.drawn[k + 1].shapes[0][0] == "occluder")
                )
    tolerance = lambda p, n: 4 * np.sqrt(p * (1 - p) / n)  # noqa: E731
    assert abs(absent / total - ABSENT) < tolerance(ABSENT, total)
    assert abs(misleading / total - MISLEADING) < tolerance(MISLEADING, total)
    assert abs(hidden / drawn - OCCLUDED) < tolerance(OCCLUDED, drawn)


def test_classes_follow_a_long_tail_and_clutter_is_present():
    counts = dict.fromkeys(CLASSES, 0)
    for index in range(1500):
        for region in plan(23, index).regions:
            counts[region.name] += 1
    for group in GROUPS:  # members in prior order, the most frequent twice the rarest or more
        ordered = [counts[m] for m in group.members]
        assert ordered == sorted(ordered, reverse=True) and ordered[0] > 2 * ordered[-1]
    clutter = [counts[c] for c in CLUTTER]
    assert clutter[0] > 4 * clutter[-1] > 0
    assert sum(clutter) > 1500


def test_members_share_one_look_and_classes_are_wordnet_nouns(wordnet):
    cues = set(FAR_CUES) | set(NEAR_CUES)
    assert set(CLASSES) == {m for g in GROUPS for m in g.members} | cues | set(CLUTTER)
    looks = {g.look for g in GROUPS} | cues | set(CLUTTER)
    assert len(looks) == len(GROUPS) + len(cues) + len(CLUTTER) and looks <= set(APPEARANCES)
    for name, synset in CLASSES.items():
        assert wordnet.has_synset(synset), name
    assert {g.context for g in GROUPS} == {"near", "far", "both"}
    assert class_names()[0] == "__background__" and class_names()[1:] == list(CLASSES)


def test_a_hidden_cue_object_shows_part_of_itself():
    hidden = 0
    for index in range(40):
        scene = plan(29, index)
        _, instances = render(29, index)
        drawn = list(scene.drawn)
        for k, thing in enumerate(drawn[:-1]):
            occluder = drawn[k + 1]
            if thing.name not in FAR_CUES or occluder.shapes[0][0] != "occluder":
                continue
            hidden += 1
            ((look, box),) = thing.shapes
            whole = shape_mask(APPEARANCES[look].shape, *box)
            (inst,) = [i for i in instances if i.name == thing.name]
            assert not (inst.mask & ~whole).any()
            assert 0.2 < inst.mask.sum() / whole.sum() < 0.85
            ys, xs = np.nonzero(inst.mask)
            assert xs.max() - xs.min() + 1 >= 16  # still covers a memory cell
    assert hidden > 3


def test_posterior_rejects_a_wrong_number_of_cues():
    with pytest.raises(ValueError, match="observed needs 2 values"):
        posterior(GROUP["band"], (None,))
    assert best_guess(GROUP["panel"], (None,)) == "door"  # the prior decides
    assert best_guess(GROUP["panel"], ("lantern_level",)) == "hatch"
    assert best_guess(GROUP["band"], ("table_diagonal", "tree")) == "grass"
