"""Regenerate the .bin model folders used by weights' tests.

Run with the system Python that has torch (apt-get install -y python3-torch):
    /usr/bin/python3 weights/testdata/make_fixtures.py
Reads testdata/golden/bert_mlm/model.safetensors (module root) and writes:
  bert_bin/pytorch_model.bin     bert_mlm's tensors in torch.save zip format, minus the two
                                 vocabulary-sized ones (to stay small), with legacy names
                                 LayerNorm.gamma / LayerNorm.beta, plus an int64
                                 bert.embeddings.position_ids buffer; and bert_mlm's config.json
  bert_bin_sharded/              bare-model (no "bert." prefix) embeddings and layer 1 as two
                                 .bin shards + pytorch_model.bin.index.json
"""
import collections
import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.environ.get("BIOENC_REFERENCE", os.path.join(os.path.dirname(ROOT), "shared", "reference")))
from safetensors_io import load_file  # noqa: E402  (the project's numpy reader)

GOLDEN = os.path.join(ROOT, "testdata", "golden", "bert_mlm")


def legacy_name(k):
    if k.endswith("LayerNorm.weight"):
        return k[: -len("weight")] + "gamma"
    if k.endswith("LayerNorm.bias"):
        return k[: -len("bias")] + "beta"
    return k


def main():
    sd = {k: torch.from_numpy(v) for k, v in load_file(os.path.join(GOLDEN, "model.safetensors")).items()}
    skip = {"bert.embeddings.word_embeddings.weight", "cls.predictions.bias"}

    out = os.path.join(HERE, "bert_bin")
    os.makedirs(out, exist_ok=True)
    bin_sd = collections.OrderedDict((legacy_name(k), v) for k, v in sorted(sd.items()) if k not in skip)
    bin_sd["bert.embeddings.position_ids"] = torch.arange(64).unsqueeze(0)
    torch.save(bin_sd, os.path.join(out, "pytorch_model.bin"))
    shutil.copy(os.path.join(GOLDEN, "config.json"), os.path.join(out, "config.json"))

    out = os.path.join(HERE, "bert_bin_sharded")
    os.makedirs(out, exist_ok=True)
    shards = [collections.OrderedDict(), collections.OrderedDict()]
    for k, v in sorted(sd.items()):
        if k in skip or not k.startswith("bert."):
            continue
        bare = k[len("bert."):]
        if bare.startswith("embeddings."):
            shards[0][bare] = v
        elif bare.startswith("encoder.layer.1."):
            shards[1][bare] = v
    weight_map, total = {}, 0
    for i, part in enumerate(shards):
        name = "pytorch_model-%05d-of-%05d.bin" % (i + 1, len(shards))
        torch.save(part, os.path.join(out, name))
        for k, v in part.items():
            weight_map[k] = name
            total += v.numel() * v.element_size()
    with open(os.path.join(out, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
