"""Regenerate torchbin's test fixtures (small pytorch_model.bin-style files).

Run with the system Python that has torch (apt-get install -y python3-torch):
    /usr/bin/python3 torchbin/testdata/make_fixtures.py
Writes next to this script:
  zip_dtypes.bin     torch.save zip format: every storage dtype, a scalar, an empty tensor
  zip_views.bin      a transposed (non-contiguous) view, an offset slice, a strided column,
                     two names sharing one storage (tied weights), nn.Module state_dict
                     (OrderedDict + BUILD with _metadata), an nn.Parameter (_rebuild_parameter)
  zip_proto4.bin     same content as zip_views.bin pickled with protocol 4 (FRAME, MEMOIZE,
                     SHORT_BINUNICODE, STACK_GLOBAL)
  zip_archive.bin    zip_dtypes.bin repacked the way newer torch lays it out: folder
                     "archive/", a "byteorder" entry, ".data/serialization_id", entries deflated
  zip_bigendian.bin  zip_views.bin repacked with byteorder "big" and byte-swapped storages
  legacy.bin         _use_new_zipfile_serialization=False: dtypes, views, shared storage
  evil_*.bin         pickles that name forbidden globals (must be refused, never run)
  expected.json      every tensor of every good file: dtype, shape, values
"""
import collections
import io
import json
import os
import pickle
import struct
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(7)

DTYPE = {
    torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


def values(t):
    t = t.detach()
    if t.dtype.is_floating_point:
        return [repr(float(x)) for x in t.float().reshape(-1).tolist()]
    return [int(x) for x in t.reshape(-1).tolist()]


def describe(sd):
    return {k: {"dtype": DTYPE[v.dtype], "shape": list(v.shape), "values": values(v)} for k, v in sd.items()}


def dtypes_dict():
    f = torch.tensor([[0.0, -0.0, 1.5], [float("inf"), -2.25, 1e-3]])
    sd = collections.OrderedDict()
    sd["f32"] = f
    sd["f64"] = torch.tensor([1 / 3, -1e-300, 1e300], dtype=torch.float64)
    sd["f16"] = torch.tensor([0.1, -0.0, 65504.0, 6e-8, float("-inf")], dtype=torch.float16)
    sd["bf16"] = torch.tensor([0.1, -3.0e38, 1e-40, 3.140625], dtype=torch.bfloat16)
    sd["i64"] = torch.tensor([0, -1, 2**62, -(2**63)], dtype=torch.int64)
    sd["i32"] = torch.tensor([[-(2**31), 2**31 - 1]], dtype=torch.int32)
    sd["i16"] = torch.tensor([-32768, 7, 32767], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 0, 127], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["embeddings.position_ids"] = torch.arange(8).unsqueeze(0)
    return sd


def views_dict():
    base = torch.randn(4, 6)
    emb = torch.randn(5, 3)
    lin = torch.nn.Linear(3, 2)
    sd = collections.OrderedDict()
    sd["transposed"] = base.t()                 # stride (1, 6)
    sd["rows_1_3"] = base[1:3]                  # storage offset 6, contiguous
    sd["column_2"] = base[:, 2]                 # offset 2, stride 6
    sd["every_other"] = base[::2, 1::2]         # offset 1, strides (12, 2)
    sd["word_embeddings.weight"] = emb
    sd["decoder.weight"] = emb                  # same tensor: one storage, two names
    sd["half_view"] = emb.half()[1:, :2]        # f16 strided view
    m = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    for k, v in m.state_dict().items():
        sd["module." + k] = v
    sd["param"] = torch.nn.Parameter(torch.tensor([1.0, 2.0]))  # pickled via _rebuild_parameter
    sd["lin_t"] = lin.weight.detach().t()
    return sd


def save(obj, name, **kw):
    torch.save(obj, os.path.join(HERE, name), **kw)


def repack(src, dst, top, byteorder=None, swap_sizes=None, deflate=False):
    """Rewrite a torch zip under another folder name, optionally with a byteorder entry
    and byte-swapped storages (swap_sizes: storage key -> element size)."""
    zin = zipfile.ZipFile(os.path.join(HERE, src))
    old = zin.namelist()[0].split("/")[0]
    comp = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(os.path.join(HERE, dst), "w", compression=comp) as zout:
        for info in zin.infolist():
            rest = info.filename[len(old) + 1:]
            data = zin.read(info.filename)
            if swap_sizes and rest.startswith("data/"):
                es = swap_sizes[rest[5:]]
                data = b"".join(data[i:i + es][::-1] for i in range(0, len(data), es))
            zout.writestr(top + "/" + rest, data)
        if byteorder:
            zout.writestr(top + "/byteorder", byteorder)
        zout.writestr(top + "/.data/serialization_id", "1234567890")


def storage_sizes(sd):
    """storage key as torch.save assigns them (0, 1, ... in first-use order) -> element size."""
    sizes, seen = {}, {}
    for v in sd.values():
        ptr = v.storage().data_ptr()
        if ptr not in seen:
            seen[ptr] = str(len(seen))
            sizes[seen[ptr]] = v.element_size()
    return sizes


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def raw_pickle_zip(name, payload, top="archive"):
    with zipfile.ZipFile(os.path.join(HERE, name), "w") as z:
        z.writestr(top + "/data.pkl", payload)
        z.writestr(top + "/version", "3\n")


def main():
    expected = {}
    d = dtypes_dict()
    save(d, "zip_dtypes.bin")
    expected["zip_dtypes.bin"] = describe(d)

    v = views_dict()
    save(v, "zip_views.bin")
    expected["zip_views.bin"] = describe(v)
    save(v, "zip_proto4.bin", pickle_protocol=4)
    expected["zip_proto4.bin"] = describe(v)

    repack("zip_dtypes.bin", "zip_archive.bin", "archive", byteorder="little", deflate=True)
    expected["zip_archive.bin"] = describe(d)
    repack("zip_views.bin", "zip_bigendian.bin", "archive", byteorder="big", swap_sizes=storage_sizes(v))
    expected["zip_bigendian.bin"] = describe(v)

    legacy = collections.OrderedDict(list(d.items()) + list(v.items()))
    save(legacy, "legacy.bin", _use_new_zipfile_serialization=False)
    expected["legacy.bin"] = describe(legacy)

    # Forbidden globals. None of these is ever executed by the reader.
    raw_pickle_zip("evil_os_system.bin", b"\x80\x02cos\nsystem\nq\x00X\x0a\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03.")
    raw_pickle_zip("evil_reduce.bin", pickle.dumps({"w": Evil()}, protocol=2))  # posix.system on Linux
    raw_pickle_zip("evil_load_from_bytes.bin",
                   b"\x80\x02}q\x00X\x01\x00\x00\x00wq\x01ctorch.storage\n_load_from_bytes\nq\x02C\x01\x00q\x03\x85q\x04Rq\x05s.")
    raw_pickle_zip("evil_stack_global.bin", pickle.dumps(Evil(), protocol=4))  # STACK_GLOBAL posix system
    raw_pickle_zip("evil_builtins_eval.bin", b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1q\x00\x85R.")
    # Legacy layout whose first pickle is hostile.
    with open(os.path.join(HERE, "evil_legacy.bin"), "wb") as f:
        f.write(pickle.dumps(Evil(), protocol=2))

    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
