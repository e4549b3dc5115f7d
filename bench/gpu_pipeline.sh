#!/usr/bin/env bash
# The pipeline benchmark on the GPU machine, in one command (the device tool's `run`).
#
# That machine has Python 3.12 with torch and no package registry, so what the
# project needs beyond its image travels as wheels in .whl/ (DVC and its
# dependencies, pydantic, openTSNE, mlxtend, hydra: no MLflow, too large to
# carry, hence --skip-stage track), and full MNIST in .mnist/ (both ignored by
# git, named in `carry`). It runs
#     bench/pipeline_speed.py --local-mnist .mnist --exp-run --skip-stage track --keep
# under a time limit, then, in what time is left, a capped bench/vae_burda.py,
# and leaves in $OUT: the device and versions (env.txt), the whole log
# (pipeline.log; each line carries seconds since its command began, so a run cut
# short still dates every stage), the clone's metrics and dvc.lock
# (metrics.tgz), and burda.log.
#
#     bash bench/gpu_pipeline.sh [PIPELINE_SECONDS] [BURDA_SECONDS]
#
# Rehearse it on a CPU in a copy of the tree without .git (as the device gets it), with the
# project's .venv/bin first on PATH and a shrunk pipeline:
#     PATH=/path/to/.venv/bin:$PATH EXTRA='-S data.limit=1000' bash bench/gpu_pipeline.sh 1200 30
set -uo pipefail
PIPELINE_SECONDS=${1:-420}
BURDA_SECONDS=${2:-60}
OUT=${OUT:-$(mktemp -d)}
REPO=$(pwd)
export PYTHONUNBUFFERED=1

if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
fi
export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"
    nproc
    python3 -c "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__,
              'cuda', torch.cuda.is_available() and torch.cuda.get_device_name())"
    dvc --version
} 2>&1 | tee "$OUT/env.txt"

# The copy that travels has no .git: the benchmark clones a commit, so make one.
if [ ! -d .git ]; then
    git init -q && git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm "device copy" || exit 1
fi

# shellcheck disable=SC2086  # EXTRA holds several words on purpose
timeout "$PIPELINE_SECONDS" python3 bench/pipeline_speed.py --local-mnist .mnist --exp-run --skip-stage track \
    --keep ${EXTRA:-} 2>&1 | tee "$OUT/pipeline.log"
echo "pipeline_speed exit: ${PIPESTATUS[0]}" | tee -a "$OUT/pipeline.log"
for clone in /tmp/latent-atlas-bench-*/clone; do
    [ -d "$clone/metrics" ] && tar czf "$OUT/metrics.tgz" -C "$clone" metrics $(cd "$clone" && ls dvc.lock 2>/dev/null)
done

timeout "$BURDA_SECONDS" python3 bench/vae_burda.py --mnist .mnist --max-epochs 40 --k 5000 2>&1 | tee "$OUT/burda.log"
echo "vae_burda exit: ${PIPESTATUS[0]}" | tee -a "$OUT/burda.log"
