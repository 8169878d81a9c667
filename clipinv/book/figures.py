"""Figures, captions and notices shared by every notebook of the book.

Everything a section shows goes through here, so no notebook copies another's plotting:

- `image_grid`: prompts x seeds as a grid, NSFW-flagged images blurred by default (NudeNet,
  `safe_images`, which every other place that shows images uses too);
- `similarity_curves`: cosine similarity vs step, with the resolution changes marked;
- `matrix`: a labelled heat map with its numbers written in, chosen cells boxed;
- `intervals`: estimates with their 95% intervals, one panel per measure; `rate_curves`: rates vs a dose;
  `histograms`: several samples' distributions overlaid;
- `caption` / `show`: a figure with a caption that names the model spec, judge, profile and settings;
- `table`: a table of rows with its caption;
- `stand_in_note`: the visible admonition on pages made with a world's models or `ARCH:random` ones.

Captions and notices are HTML outputs: they render the same in Jupyter and in the built book.
"""

from __future__ import annotations

import html
import textwrap

import torch

from clipinv.analyses import prose
from clipinv.analyses.findings import Curves, Grid
from clipinv.errors import ClipinvError
from clipinv.safety import blur_flagged


# ---------------------------------------------------------------- notices and captions
def _display(obj):
    try:
        from IPython.display import display

        display(obj)
    except ImportError:  # outside IPython: nothing to render into
        pass


def _html(text: str):
    from IPython.display import HTML

    return HTML(text)


def admonition(title: str, body: str, kind: str = "warning"):
    """An HTML admonition styled by the book's theme (and readable in Jupyter)."""
    return _html(
        f'<div class="admonition {kind}" style="border-left:4px solid #e0a000;padding:0.4em 0.8em;'
        f'background:#fff8e1;margin:0.5em 0"><p class="admonition-title" style="font-weight:bold;margin:0">'
        f'{html.escape(title)}</p><p style="margin:0.3em 0 0 0">{body}</p></div>'
    )


# what each world's stand-in models are, as a page's notice says it
STAND_IN_WORLDS = {
    "toy": "tiny CLIPs trained on a synthetic world of coloured shapes",
    "emoji": (
        "small CLIPs trained from scratch on the emoji world (the emoji Noto Color Emoji draws, and their names)"
    ),
}
# why a page runs on a world other than the emoji world, the classroom book's default
WHY_WORLD = {
    "toy": (
        "The classroom book keeps the shapes world where a page needs a planted truth the emoji world does not "
        "ship, or more inversions than the emoji models allow in its 20 minutes on a CPU"
    ),
}


def stand_in_note(*bundles, inverted: str | None = None, show: bool = True):
    """A visible admonition if any of the models is a stand-in (a world's, or ARCH:random), naming the
    world and the models that made the page (and `inverted`, the shipped ladder models a page inverts in
    their place), and why a page runs on the toy world. Returns it (or None)."""
    from clipinv.worlds import world_of

    specs = [b.spec for b in bundles if b is not None and getattr(b, "is_stand_in", False)]
    if not specs:
        return None
    parts = []
    for world, about in STAND_IN_WORLDS.items():
        mine = [s for s in specs if world_of(s) == world]
        if mine:
            parts.append(
                f"made with {', '.join(f'<code>{html.escape(s)}</code>' for s in mine)}, the {world} world's models: "
                f"{about}, shipped with clipinv so the book runs offline on a CPU. They test the method and the "
                "measurements, not what OpenAI's or LAION's CLIPs learned"
                + (f". The page inverts {html.escape(inverted)}" if inverted else "")
                + (f". {WHY_WORLD[world]}" if world in WHY_WORLD else "")
            )
    rnd = [s for s in specs if s.endswith(":random")]
    if rnd:
        parts.append(
            f"made with {', '.join(f'<code>{html.escape(s)}</code>' for s in rnd)}: real architectures with "
            "<b>random weights</b>. The numbers only show that the code runs; they say nothing about CLIP"
        )
    body = (
        "This page was "
        + "; and ".join(parts)
        + (". Rerun it on the paper's models with <code>clipinv section NAME --profile paper</code> (GPU).")
    )
    note = admonition("Stand-in models", body)
    if show:
        _display(note)
    return note


def settings_text(model=None, judge=None, profile=None, **settings) -> str:
    """'model toy, judge toy-judge, profile classroom, seeds 8, steps 300' (None values skipped)."""
    parts = []
    for k, v in (("model", model), ("judge", judge), ("profile", profile), *settings.items()):
        if v is None:
            continue
        v = getattr(v, "spec", v)
        parts.append(f"{k.replace('_', ' ')} {v}")
    return ", ".join(parts)


def caption(text: str, model=None, judge=None, profile=None, show: bool = True, **settings):
    """The standard caption: the text, then the model spec, judge, profile and settings that made it."""
    meta = settings_text(model=model, judge=judge, profile=profile, **settings)
    out = _html(
        f'<p class="clipinv-caption" style="font-size:0.9em;color:#444;margin-top:0">'
        f"{html.escape(text)} <i>({html.escape(meta)})</i></p>"
    )
    if show:
        _display(out)
    return out


def show(fig, text: str, **meta):
    """Display a matplotlib figure and its standard caption, then close the figure."""
    import matplotlib.pyplot as plt

    _display(fig)
    plt.close(fig)
    caption(text, **meta)


# ---------------------------------------------------------------- figures
def safe_images(images: torch.Tensor, blur: bool = True):
    """Images with the NSFW-flagged ones blurred (unless blur=False): returns (images, flagged [...])."""
    return blur_flagged(images, enabled=blur)


def image_grid(
    images: torch.Tensor,
    row_labels=None,
    col_labels=None,
    values=None,
    blur: bool = True,
    size: float = 1.6,
    title: str | None = None,
    wrap: int = 28,
):
    """images [R, C, 3, H, W] (or [N, 3, H, W] as one row) in [0, 1] -> (figure, flagged [R, C]).

    `values` [R, C] are written under each image (e.g. similarity). Flagged images are blurred
    and marked "blurred (NSFW)" unless blur=False."""
    import matplotlib.pyplot as plt

    if images.dim() == 4:
        images = images[None]
        if values is not None:
            values = torch.as_tensor(values)[None]
    shown, flagged = safe_images(images, blur=blur)
    r, c = shown.shape[:2]
    fig, axes = plt.subplots(
        r, c, figsize=(size * c + (1.6 if row_labels else 0), size * r + 0.3 * (values is not None) * r), squeeze=False
    )
    for i in range(r):
        for j in range(c):
            ax = axes[i, j]
            ax.imshow(shown[i, j].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            label = []
            if values is not None:
                label.append(f"{float(values[i][j]):.3f}")
            if blur and bool(flagged[i, j]):
                label.append("blurred (NSFW)")
            if label:
                ax.set_xlabel("  ".join(label), fontsize=8)
            if i == 0 and col_labels is not None:
                ax.set_title(str(col_labels[j]), fontsize=8)
            if j == 0 and row_labels is not None:
                ax.set_ylabel(
                    "\n".join(textwrap.wrap(str(row_labels[i]), wrap)), fontsize=8, rotation=0, ha="right", va="center"
                )
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig, flagged


def cosine_history(inversion) -> torch.Tensor:
    """Per-step cosine similarity [P, S, steps] from the distance term: 1 - d^2/2 (d = the mean over
    augmented copies of ||v - t|| for unit vectors; exact when the copies agree)."""
    d = inversion.history["distance"]
    return 1 - d.pow(2) / 2


def similarity_curves(inversion, labels=None, schedule=None, ax=None, title=None):
    """Cosine similarity vs step, mean over seeds with a min-max band per prompt; vertical lines at
    the resolution changes of `schedule` ((step, side), ...). Returns the figure."""
    import matplotlib.pyplot as plt

    cos = cosine_history(inversion)  # [P, S, T]
    steps = torch.arange(1, cos.shape[-1] + 1)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.4))
    else:
        fig = ax.figure
    labels = labels or inversion.prompts
    for p in range(cos.shape[0]):
        mean = cos[p].mean(0)
        (line,) = ax.plot(steps, mean, lw=1.2, label=_short(labels[p]))
        if cos.shape[1] > 1:
            ax.fill_between(steps, cos[p].min(0).values, cos[p].max(0).values, color=line.get_color(), alpha=0.15, lw=0)
    for at, side in (schedule or ())[1:]:
        ax.axvline(at, color="grey", ls="--", lw=0.8)
        ax.text(at, ax.get_ylim()[0], f" {side} px", color="grey", fontsize=7, va="bottom")
    if schedule:
        ax.text(1, ax.get_ylim()[0], f" {schedule[0][1]} px", color="grey", fontsize=7, va="bottom")
    ax.set_xlabel("step")
    ax.set_ylabel("cosine similarity (augmented copies)")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def matrix(
    values,
    rows,
    cols,
    title=None,
    fmt="{:.2f}",
    cmap="viridis",
    xlabel=None,
    ylabel=None,
    vmin=None,
    vmax=None,
    boxes=(),
    box_colour="red",
):
    """A heat map of values [R, C] with every number written in; the cells (row, col) listed in
    `boxes` are outlined in `box_colour` (e.g. each row's own column). Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    v = torch.as_tensor(values, dtype=torch.float32)
    r, c = v.shape
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * c + 0.08 * max(len(_short(s)) for s in rows), 0.8 + 0.5 * r))
    im = ax.imshow(v.numpy(), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    lo, hi = float(v.min()), float(v.max())
    for i in range(r):
        for j in range(c):
            x = float(v[i, j])
            ax.text(
                j,
                i,
                fmt.format(x),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if (hi > lo and (x - lo) / (hi - lo) < 0.5) else "black",
            )
    for i, j in boxes:
        if not (0 <= i < r and 0 <= j < c):
            raise ClipinvError(f"box ({i}, {j}) is outside the {r} x {c} matrix")
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec=box_colour, lw=1.5))
    ax.set_xticks(range(c), [_short(s, 22) for s in cols], rotation=40, ha="right", fontsize=7)
    ax.set_yticks(range(r), [_short(s, 40) for s in rows], fontsize=7)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    return fig


def intervals(labels, panels: dict, limits: dict | None = None, reference: int | None = None):
    """Side-by-side panels of estimates with their 95% intervals, one point per label: `panels` maps a
    y-axis label to a list of dicts with mean (or rate), low and high; `limits` a y-axis label to its
    (bottom, top); `reference`, a label's index whose value a dotted line marks (e.g. the full
    recipe). Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.3), squeeze=False)
    x = list(range(len(labels)))
    for ax, (ylabel, values) in zip(axes[0], panels.items()):
        mid = [float(v["mean"] if "mean" in v else v["rate"]) for v in values]
        low = [m - float(v["low"]) for m, v in zip(mid, values)]
        high = [float(v["high"]) - m for m, v in zip(mid, values)]
        ax.errorbar(x, mid, yerr=[low, high], fmt="o", capsize=4)
        ax.set_ylabel(ylabel)
        if reference is not None:
            ax.axhline(mid[reference], color="grey", ls=":")
        if limits and ylabel in limits:
            ax.set_ylim(*limits[ylabel])
        ax.set_xticks(x)
        ax.set_xticklabels([_short(s, 28) for s in labels], rotation=20, ha="right", fontsize=8)
    fig.tight_layout()
    return fig


def rate_curves(
    tables: dict,
    x: str,
    xlabel: str,
    ylabel: str,
    scale: float = 1.0,
    log_from: float | None = None,
    identity: bool = False,
):
    """Rates with their intervals vs `x`, one curve per table ({name: frame with x, rate, low, high});
    `scale` multiplies x (e.g. 100 for percent), `log_from` makes the x axis logarithmic above it,
    `identity` draws the line y = x (a calibration plot: x is the rate planted)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    if identity:
        ax.plot([0, scale], [0, 1], color="grey", lw=1, ls=":", label="recovered = planted")
    for (name, t), style in zip(tables.items(), ("o-", "s--", "^:", "d-.")):
        xs = [scale * v for v in t[x]]
        ax.errorbar(xs, t["rate"], yerr=[t["rate"] - t["low"], t["high"] - t["rate"]], fmt=style, capsize=3, label=name)
    if log_from is not None:
        ax.set_xscale("symlog", linthresh=log_from)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.02, 1.02)
    ax.legend()
    fig.tight_layout()
    return fig


def histograms(groups: dict, xlabel: str, title=None, bins=30):
    """Overlaid histograms of several named samples, on the same bins (so a sample bunched in a narrow range
    shows as one tall bar, not as slivers). Returns the figure."""
    import matplotlib.pyplot as plt
    import numpy as np

    samples = {name: torch.as_tensor(x).flatten().float().numpy() for name, x in groups.items()}
    values = np.concatenate([x for x in samples.values() if x.size] or [np.zeros(1)])
    edges = np.histogram_bin_edges(values, bins=bins)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for name, x in samples.items():
        ax.hist(x, bins=edges, alpha=0.5, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def table(rows, caption_text: str | None = None, digits: int = 3, **meta):
    """Show rows (a list of dicts or a DataFrame) as a table with the standard caption under it.
    Numbers are shown to `digits` decimals (whole numbers as they are); rates and intervals are
    best passed as text (`clipinv.analyses.prose`). The table wraps its cells to fit the page's column."""
    import pandas as pd

    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    style = df.style.hide(axis="index").format(lambda v: prose.cell(v, digits), na_rep="–")
    _display(style.set_table_attributes('class="clipinv-table"'))
    if caption_text:
        caption(caption_text, **meta)
    return df


def _short(s, n: int = 48) -> str:
    s = str(s)
    return s if len(s) <= n else s[: n - 1] + "…"


def present(sec, shown) -> None:
    """Show what an analysis found, in order (`clipinv.analyses.findings`): each `Table` with the page's
    caption settings, each `Curves` as `rate_curves`, each `Grid` through the page's `show_images` (NSFW-flagged images blurred)."""
    for item in shown:
        if isinstance(item, Grid):
            sec.show_images(
                item.images,
                item.caption,
                row_labels=item.row_labels,
                col_labels=item.col_labels,
                size=item.size,
                **item.settings,
            )
        elif isinstance(item, Curves):
            fig = rate_curves(item.tables, item.x, item.xlabel, item.ylabel, **item.plot)
            sec.show(fig, item.caption, **item.settings)
        else:
            table(item.rows, item.caption, **sec.meta(**item.settings))
