"""A dress rehearsal of the paper profile: its own specs through the real loader (open_clip's pretrained
path, offline) on random weights written where the downloaded ones would lie (`tools/offline_hub.py`),
with steps, seeds and copies cut to the minimum. ViT-L-14 (1.7 GB of weights) is left to
tools/dress_rehearsal.py, which runs all eight sections: here the judge is ViT-B-32:openai, another
of the profile's specs, and sections 0 and 3 run."""

from __future__ import annotations

import os
import sys
import warnings

import nbformat
import open_clip
import pytest
import torch
from book_helpers import REPO

from clipinv import load_model
from clipinv.book.plan import plan
from clipinv.book.runner import copy_sources, glued, run_section
from clipinv.models.bundle import weights_hash
from clipinv.runs import planning

sys.path.insert(0, str(REPO / "tools"))
from offline_hub import PeakMemory, hub_file, profile_specs, seed_of, use_offline_hub, write_weights

# where open_clip 3.3.0 reads each of the paper profile's specs (pretrained.py: the tag's hf_hub entry,
# the safetensors file tried first): if a new open_clip moves them, the rehearsal no longer rehearses
HUB_FILES = {
    "ViT-B-16:openai": ("timm/vit_base_patch16_clip_224.openai", "open_clip_model.safetensors"),
    "ViT-L-14:openai": ("timm/vit_large_patch14_clip_224.openai", "open_clip_model.safetensors"),
    "ViT-B-32:openai": ("timm/vit_base_patch32_clip_224.openai", "open_clip_model.safetensors"),
    "ViT-B-32:laion400m_e32": ("timm/vit_base_patch32_clip_224.laion400m_e32", "open_clip_model.safetensors"),
    "ViT-B-32:laion2b_s34b_b79k": ("laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "open_clip_model.safetensors"),
    "ViT-B-32:datacomp_xl_s13b_b90k": ("laion/CLIP-ViT-B-32-DataComp.XL-s13B-b90K", "open_clip_model.safetensors"),
}
SUBSET = ["ViT-B-16:openai", "ViT-B-32:openai"]
MINIMAL = {"device": "cpu", "steps": 2, "seeds": 1, "recipe": {"n_augments": 1}, "judge": "ViT-B-32:openai"}
PEAK_LIMIT = 16e9


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    from huggingface_hub import constants

    hub = tmp_path_factory.mktemp("hub")
    write_weights(hub, SUBSET, log=lambda *_: None)
    env = {k: os.environ.get(k) for k in ("HF_HUB_CACHE", "HF_HUB_OFFLINE")}
    settings = (constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE)
    use_offline_hub(hub)
    yield hub
    for k, v in env.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE = settings


def test_the_paper_profile_names_these_specs_and_open_clip_reads_these_files():
    assert profile_specs(REPO, "paper") == list(HUB_FILES)
    assert {spec: hub_file(spec) for spec in HUB_FILES} == HUB_FILES


def test_the_real_loader_reads_the_rehearsal_weights_with_the_tags_activation(hub):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bundle = load_model("ViT-B-32:openai")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed_of("ViT-B-32:openai"))
        written = open_clip.create_model("ViT-B-32")
    assert bundle.weights_hash == weights_hash(written) != load_model("ViT-B-32:random").weights_hash
    assert not bundle.is_stand_in, "the rehearsal's models load as the real ones do"
    # OpenAI's CLIPs were trained with QuickGELU; the tag says so and the loader must follow it
    assert type(bundle.model.visual.transformer.resblocks[0].mlp.gelu).__name__ == "QuickGELU"
    assert not [w for w in caught if "QuickGELU" in str(w.message)]


def _page_text(path) -> str:
    nb = nbformat.read(str(path), as_version=4)
    return " ".join(str(o.get("data", o.get("text", ""))) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_section_0_of_the_paper_profile_runs_on_the_real_specs(hub, tmp_path):
    root = copy_sources(tmp_path, REPO)
    prompts = ["a peaceful sunset", "a loving couple"]
    res = run_section(root, "00_method", "paper", {**MINIMAL, "prompts": prompts, "stage_prompts": 1}, log=print)
    values = glued(res["output"])
    assert "ViT-B-16:openai, judged by ViT-B-32:openai" in values["models"]
    assert "ViT-B-32:openai" in values["judge_spec"] and "ViT-B-16" not in values["judge_spec"]
    text = _page_text(res["output"])
    assert "model ViT-B-16:openai" in text and "judge ViT-B-32:openai" in text, "captions name the real specs"
    assert "Stand-in models" not in text


def test_section_3_of_the_paper_profile_batches_30_wordings_in_bounded_memory(hub, tmp_path):
    root = copy_sources(tmp_path, REPO)
    with PeakMemory() as peak:
        res = run_section(root, "03_gender", "paper", MINIMAL, log=print, ledger=tmp_path / "planning.jsonl")
    print(f"[rehearsal] 03_gender: {res['seconds']:.0f} s, kernel peak {peak.peak_gb:.1f} GB")
    assert 0 < peak.peak_bytes < PEAK_LIMIT, f"section 3 peaked at {peak.peak_gb:.1f} GB"
    values = glued(res["output"])
    assert "ViT-B-16:openai, judged by ViT-B-32:openai" in values["models"]
    (ran,) = planning.rows(tmp_path / "planning.jsonl")
    assert [m["spec"] for m in ran["models"]] == ["ViT-B-16:openai"]
    assert (ran["images"], ran["new"], ran["copies"], ran["steps"]) == (30, 30, 1, 2)

    (planned,) = plan(root, ["03_gender"], "paper", MINIMAL, log=print)["rows"]
    assert (planned["images"], planned["cached"], planned["new"]) == (30, 30, 0), "the run left all 30 cached"
    assert planned["models"][0]["weights"] == ran["models"][0]["weights"]
