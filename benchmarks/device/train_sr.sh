#!/bin/bash
# The super-resolution trainings of issue 15 on a lent GPU, in one call: the same configs as on a
# CPU (configs/sr/*.yaml), five runs side by side on the one GPU, each with its own CPU process.
# Needs ../shared/data/train/color (see unpack_train_color.py). Writes, under $OUT: per run the
# final model file (or, if the time limit came first, its last checkpoint, to finish with
# `restorekit train CONFIG --resume` on any machine) and runs.tar.gz (logs, configs, TensorBoard).
#   bash benchmarks/device/train_sr.sh SECONDS
set -u
LIMIT=${1:-470}
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
mkdir -p runs/sr logs
for cfg in x4 x2 x3 oracle-x4 cycle-x4; do
  timeout "$LIMIT" python3 -c "from restorekit.cli.main import main; main()" \
    train "configs/sr/$cfg.yaml" --quiet ${RK_ARGS:-} > "logs/$cfg.log" 2>&1 &
done
wait
for cfg in x4 x2 x3 oracle-x4 cycle-x4; do
  echo "== $cfg"; tail -3 "logs/$cfg.log"; cat "runs/sr/$cfg/log.jsonl" 2>/dev/null | tail -3
  if [ -f "runs/sr/$cfg/model.safetensors" ]; then
    cp "runs/sr/$cfg/model.safetensors" "$OUT/$cfg.model.safetensors"
  else
    cp "runs/sr/$cfg/checkpoints/last.safetensors" "$OUT/$cfg.last.safetensors" 2>/dev/null
  fi
done
tar czf "$OUT/runs.tar.gz" --exclude='*.safetensors' logs runs/sr
ls -la "$OUT"
