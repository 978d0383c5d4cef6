import numpy as np

from iterative_reasoning.data.synthetic import IMAGE_SIZE
from iterative_reasoning.data.synthetic.hard import CLUTTER, GROUPS, best_guess, render
from iterative_reasoning.data.synthetic.hard_layout import Drawn, box_gap, plan

CELL_SIDE = IMAGE_SIZE // 2


def _cell(box):
    """The quadrant (0..3, row-major) of a box's centre."""
    cy, cx = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return int(cy // CELL_SIDE) * 2 + int(cx // CELL_SIDE)


def test_a_plan_depends_on_its_seed_and_index_alone():
    assert plan(3, 5) == plan(3, 5)
    assert plan(3, 5) != plan(3, 6) and plan(3, 5) != plan(4, 5)


def test_the_plan_is_what_is_rendered():
    for index in range(10):
        scene = plan(2, index)
        _, instances = render(2, index)
        assert [i.name for i in instances] == [d.name for d in scene.regions]
        for inst, drawn in zip(instances, scene.regions, strict=True):
            ys, xs = np.nonzero(inst.mask)
            y1, x1, y2, x2 = drawn.box
            assert y1 <= ys.min() and ys.max() <= y2 and x1 <= xs.min() and xs.max() <= x2


def test_a_drawn_thing_s_box_holds_its_shapes():
    thing = Drawn("car", (("body", (10, 20, 30, 60)), ("wheel", (28, 15, 40, 25))))
    assert thing.box == (10, 15, 40, 60)


def test_each_group_has_its_own_cell_and_its_ambiguous_region():
    cells_seen = set()
    for index in range(40):
        scene = plan(5, index)
        regions = scene.regions
        assert [a.group for a in scene.ambiguous] == [g.name for g in GROUPS]
        cells = set()
        for a, group in zip(scene.ambiguous, GROUPS, strict=True):
            assert regions[a.region].name == a.label and a.label in group.members
            assert a.guess == best_guess(group, a.observed)
            assert a.decided == (a.guess == a.label)
            assert len(a.observed) == len(group.cues)
            cells.add(_cell(regions[a.region].box))
        assert len(cells) == 3  # three cells; the fourth holds the far cues
        cells_seen.add(tuple(sorted(cells)))
    assert len(cells_seen) > 1  # the cells are shuffled


def test_everything_lies_inside_the_image_and_clutter_keeps_its_distance():
    counts = set()
    for index in range(40):
        scene = plan(9, index)
        for thing in scene.drawn:
            y1, x1, y2, x2 = thing.box
            assert 0 <= y1 <= y2 < IMAGE_SIZE and 0 <= x1 <= x2 < IMAGE_SIZE
        clutter = [d for d in scene.regions if d.name in CLUTTER]
        counts.add(len(clutter))
        for c in clutter:
            for other in scene.regions:
                if other is not c:
                    assert box_gap(c.box, other.box) >= 6
    assert counts <= {0, 1, 2, 3} and counts & {2, 3}


def test_gap_is_the_distance_between_boxes():
    assert box_gap((0, 0, 10, 10), (5, 5, 20, 20)) == 0.0  # overlapping
    assert box_gap((0, 0, 10, 10), (10, 12, 20, 20)) == 2.0  # beside
    assert box_gap((0, 0, 10, 10), (13, 14, 20, 20)) == 5.0  # diagonal: a 3-4-5 triangle
    assert box_gap((13, 14, 20, 20), (0, 0, 10, 10)) == 5.0
