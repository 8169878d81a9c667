#!/usr/bin/env bash
# The second session's inversion study, fixed before any of its inversions was made: every DEV and
# HELDOUT prompt x 4 seeds (92 images per recipe, one batch), each recipe one change from `plain`
# (toy-like and fourier-toy are the first session's bundles), inverted `probe_s0`, judged by
# `probe_s1` and `small-plain_s2`; the ensemble inverts probe_s0+probe_s1 and is judged by
# small-plain_s2 alone (compare with plain's small-plain_s2 row). One recipe per process, in this
# order, so a cut-off study still leaves its first rows. Usage: bash inversion_study.sh [FIRST [LAST]];
# SEEDS=2 JUDGES= inverts fewer seeds and leaves the judging to `rejudge` (judges trained afterwards).
set -u
cd "$(dirname "$0")/../.."
PY=".venv/bin/python research/emoji_world/emoji_research.py"
RUN="env OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 19"
TOY='"scale_range": [0.25, 1.0], "background_fill": 0.4, "color_shift_mean": 0.05, "color_shift_log_std": 0.1, "smooth_sigma": 0.94, "final_scale": 0.5'
STUDY=(
  "plain={}"
  "toy-like={$TOY}"
  "fourier-toy={\"parameterization\": \"fourier\", $TOY}"
  "copies-16={\"n_augments\": 16}"
  "jitter-2={\"jitter_px\": 2}"
  "steps-600={\"steps\": 600}"
  "ENSEMBLE"
)
first=${1:-0}
last=${2:-$((${#STUDY[@]} - 1))}
SEEDS=${SEEDS:-4}
JUDGES=${JUDGES-probe_s1 small-plain_s2}
for i in $(seq "$first" "$last"); do
  spec=${STUDY[$i]}
  if [ "$spec" = ENSEMBLE ]; then
    $RUN $PY invert --model probe_s0+probe_s1 --judges small-plain_s2 --seeds "$SEEDS" --sets dev heldout --recipe "ensemble={}"
  else
    $RUN $PY invert --model probe_s0 --judges $JUDGES --seeds "$SEEDS" --sets dev heldout --recipe "$spec"
  fi
done
