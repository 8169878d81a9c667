"""Recipe: one description per knob, from which validation, the CLI flags, section 0's table and
the ablations are all read."""

from __future__ import annotations

import dataclasses

import pytest

from clipinv import ClipinvError, Recipe
from clipinv.cli import build_parser, recipe_changes
from clipinv.core.recipe import KNOBS, ablations, compare


def test_every_knob_has_a_description_and_a_check_that_accepts_the_papers_default():
    paper = Recipe()
    for name, meta in KNOBS.items():
        assert meta["help"].strip(), name
        assert meta["check"](name, getattr(paper, name)) is None, name
    assert set(KNOBS) == {f.name for f in dataclasses.fields(Recipe)}


def test_every_knob_is_a_flag_that_reaches_the_recipe():
    """Each knob's flag parses to the value the recipe then holds; a flag not given leaves the knob alone."""
    given = {
        "steps": ("7", 7),
        "lr": ("0.05", 0.05),
        "resolution_schedule": ("0:16,3:32", ((0, 16), (3, 32))),
        "scale_range": ("0.5,1", (0.5, 1.0)),
        "background_fill": ("0.4", 0.4),
        "precision": ("bf16", "bf16"),
        "parameterization": ("fourier", "fourier"),
        "n_augments": ("3", 3),
    }
    argv = ["invert", "a dog"]
    for name, (text, _) in given.items():
        argv += ["--" + name.replace("_", "-"), text]
    args = build_parser().parse_args(argv + ["--no-reset-optimizer-on-resize"])
    changes = recipe_changes(args)
    assert changes == {**{k: v for k, (_, v) in given.items()}, "reset_optimizer_on_resize": False}
    recipe = (
        Recipe()
        .replace(background_fill=0.4)
        .replace(**{k: v for k, v in changes.items() if k != "reset_optimizer_on_resize"})
    )
    assert recipe.resolution_schedule == ((0, 16), (3, 32)) and recipe.scale_range == (0.5, 1.0)
    flags = {a.dest for a in build_parser()._subparsers._group_actions[0].choices["invert"]._actions}
    assert set(KNOBS) <= flags
    assert recipe_changes(build_parser().parse_args(["invert", "a dog"])) == {}


def test_runtime_options_are_not_knobs():
    assert not {"compile", "progress_every"} & set(KNOBS)
    with pytest.raises(ClipinvError, match="unknown recipe knob"):
        Recipe().replace(compile=True)


def test_the_papers_recipe_ablates_what_it_has_on_and_nothing_else():
    paper = Recipe()
    got = ablations(paper)
    assert list(got) == [
        "no resolution schedule",
        "no optimiser reset",
        "one copy",
        "no affine",
        "no TV",
        "no gradient clip",
    ]
    assert got["no TV"] == paper.replace(tv_weight=0.0)
    assert got["no resolution schedule"].resolution_schedule == ((0, 224),)
    single = paper.replace(resolution_schedule=((0, 64),))
    assert "no optimiser reset" not in ablations(single) and "no resolution schedule" not in ablations(single)
    toyish = paper.replace(background_fill=0.4, final_scale=0.5, smooth_sigma=0.5, color_shift_log_std=0.1)
    more = ablations(toyish)
    assert more["border padding"] == toyish.replace(background_fill=None, final_scale=1.0)
    assert more["no colour shift"].color_shift_log_std == 0.0 and "full size" in more and "no smoothing" in more
    assert "border padding" not in ablations(toyish.replace(affine_p=0.0))
    drawn = ablations(toyish.replace(opacity=True, final_scale=1.0))
    assert drawn["no opacity channel"] == toyish.replace(final_scale=1.0)
    assert "border padding" not in drawn  # transparent padding: no border to pad with, every variant valid


def test_compare_lists_every_knob_with_each_recipes_value():
    rows = compare(paper=Recipe(), short=Recipe(steps=10))
    assert [r["knob"] for r in rows] == list(KNOBS)
    steps = next(r for r in rows if r["knob"] == "steps")
    assert steps["paper"] == "3400" and steps["short"] == "10" and steps["what it does"] == KNOBS["steps"]["help"]


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"residual_jitter": 1.0}, "residual_jitter must be in"),
        ({"affine_p": 1.5}, "affine_p must be in"),
        ({"parameterization": "cppn"}, "parameterization must be one of"),
        ({"reset_optimizer_on_resize": "no"}, "must be True or False"),
        ({"parameterization": "fourier", "reset_optimizer_on_resize": False}, "only for parameterization 'pixels'"),
        ({"scale_range": (1.2, 0.7)}, "scale_range must be 0 < low <= high"),
        ({"resolution_schedule": ((5, 64),)}, "must start at step 0"),
        ({"resolution_schedule": ((0, 64), (10, 128), (10, 224))}, "steps must increase"),
    ],
)
def test_more_bad_recipes_are_refused_in_one_line(changes, message):
    with pytest.raises(ClipinvError, match=message) as e:
        Recipe().replace(**changes)
    assert "\n" not in str(e.value)
