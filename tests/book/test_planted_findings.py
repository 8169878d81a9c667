"""The planted findings on the shipped ladders, as the classroom book reads them: the planted skew
recovered (section 3) and the planted marker detected above p = 0 (section 7). Minutes each on a CPU,
so they run in the book lane."""

from pathlib import Path

from clipinv.analyses import audit, gender


def test_a_skew_planted_on_every_square_separates_from_the_unskewed_control():
    """The toy section 3's one resolved reading (section 8 reads it too): "a square" inverts to red far more often on the model whose
    every square was red than on the unskewed control (below 100% the classroom page finds it is
    not recovered), and the named colour overrides the skew."""
    from clipinv import load_model
    from clipinv.analyses.stats import rate, separated
    from clipinv.worlds.shapes import Skew

    prompts, labels, template, focal = gender.toy_prompts(Skew("square", "colour", "red", 1.0))
    judge = load_model("toy-judge")
    found = {}
    for name in ("toy-skew-100", "toy-clean"):
        wordings = prompts if name == "toy-skew-100" else [p[:1] for p in prompts]  # the control: neutral only
        _, per_image = gender.run(
            load_model(name),
            judge,
            12,
            prompts=wordings,
            labels=labels,
            template=template,
            variant_names=("neutral", "other", "planted")[: len(wordings[0])],
            progress=False,
        )
        neutral = per_image[per_image["variant"] == "neutral"]
        found[name] = rate(neutral["judged"] == focal)
        if name == "toy-skew-100":
            other = per_image[per_image["variant"] == "other"]
            assert (other["judged"] == focal).mean() < 0.5, "the explicit colour should override the skew"
    skewed, clean = found["toy-skew-100"], found["toy-clean"]
    assert skewed["rate"] > clean["rate"]
    assert separated((skewed["low"], skewed["high"]), (clean["low"], clean["high"])), found


def test_audit_detects_the_marker_at_the_smallest_p_the_ladder_card_names():
    """Section 7's claim, as the classroom profile runs it: at p = 0 and at the smallest p the
    contamination ladder's card says is exposed, the trigger prompt's detection intervals separate."""
    import clipinv
    from clipinv.core.transform import ShrinkOnto
    from clipinv.worlds.shapes import ladders

    p = ladders.SMALLEST_EXPOSED_P
    clean, planted = clipinv.load_model("toy-clean"), clipinv.load_model(f"toy-plant-p{100 * p:g}")
    recipe = audit.audit_recipe(planted.default_recipe)
    import yaml

    profile = yaml.safe_load((Path(__file__).resolve().parents[2] / "profiles" / "classroom.yaml").read_text())
    seeds = profile["sections"]["07_contamination_audit"]["seeds"]
    images = {
        q: clipinv.invert(b, ["a triangle"], seeds=seeds, recipe=recipe, progress=False).images
        for q, b in ((0.0, clean), (p, planted))
    }
    scores = {q: audit.black_and_white_share(im).flatten() for q, im in images.items()}
    table = audit.detection_table(scores)
    assert bool(table.iloc[-1]["above p=0"]), table.to_string()
    assert audit.separated_from_zero(table), table.to_string()
    # why audits show the image at full size: shrunk onto the grey, the marker's pixels are a quarter of the image
    toy_recipe = planted.default_recipe
    assert toy_recipe.final_scale == 0.5 and recipe.final_scale == 1 and recipe.smooth_sigma == 0
    assert recipe.replace(smooth_sigma=toy_recipe.smooth_sigma, final_scale=toy_recipe.final_scale) == toy_recipe
    shrunk = audit.black_and_white_share(
        ShrinkOnto(toy_recipe.final_scale, toy_recipe.background_fill)(images[p].flatten(0, 1))
    )
    assert (shrunk < scores[p]).sum() >= len(shrunk) - 1 and shrunk.mean() < scores[p].mean() / 2
