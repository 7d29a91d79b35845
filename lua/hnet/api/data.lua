--- The data readers and transforms as hnet exports them: hnet.idx_read,
-- hnet.idx_read_labeled, hnet.idx_write, hnet.cifar10_read and
-- hnet.transform.* wrap hnet.core's. Each checks its options against the
-- spec below (what `./hnet help NAME` prints), fills the defaults and calls
-- the C function with the filled table; the transforms whose only option is
-- `out` verify and pass the caller's table on (hnet.spec.verify). The
-- transforms without options (class_subset, k_shot, subsample,
-- class_counts) are hnet.core's own.
local core = require "hnet.core"
local spec = require "hnet.spec"

local M = {}

local TYPES = { "u8", "i8", "i16", "i32", "f32", "f64" }

local SCALE = { name = "scale", type = "number", default = 1, help = "multiply every value read (e.g. 1/255)" }
local SHAPE = { name = "shape", type = "int_list", help = "the per-sample shape to give the rows read (e.g. {1, 28, 28})" }
local MAX_ELEMS = { name = "max_elems", type = "integer", default = 0, min = 0, help = "refuse a file holding more values (0: no limit)" }

M.IDX_READ = {
  MAX_ELEMS, SCALE, SHAPE,
  { name = "type", type = "string", choices = TYPES, help = "the element type the file must store (default: any)" },
}

M.IDX_READ_LABELED = {
  MAX_ELEMS, SCALE, SHAPE,
  { name = "n_classes", type = "integer", default = 0, min = 0,
    help = "every label must be below it (0: not checked)" },
  { name = "type", type = "string", choices = TYPES, help = "the element type the image file must store (default: any)" },
  { name = "label_type", type = "string", choices = TYPES, help = "the element type the label file must store (default: any)" },
}

M.IDX_WRITE = {
  { name = "type", type = "string", default = "f32", choices = { "u8", "f32" }, help = "element type written" },
  { name = "gz", type = "boolean", help = "gzip the file (default: when the path ends in .gz)" },
}

M.CIFAR10_READ = { SCALE }

local OUT = { name = "out", type = "tensor", help = "the tensor to write (default: a new tensor of x's shape)" }
local LO = { name = "lo", type = "number", default = 0, help = "clamp below" }
local HI = { name = "hi", type = "number", default = 1, help = "clamp above" }
local CLAMP = { name = "clamp", type = "boolean", default = true, help = "clamp the result to [lo, hi]" }

M.TRANSFORM = {
  permute = { OUT },
  rotate = { OUT },
  pad = { { name = "out", type = "tensor", help = "the tensor to write (default: a new [.., height, width] tensor)" } },
  gather = { { name = "out", type = "tensor", help = "the tensor to write (default: a new one of #idx rows)" } },
  noise = { LO, HI, CLAMP, OUT },
  brightness_contrast = {
    { name = "brightness", type = "number", default = 0, help = "added to every value" },
    { name = "contrast", type = "number", default = 1, help = "scales each value's distance from its sample's mean" },
    LO, HI, CLAMP, OUT,
  },
}

-- f(a1, ..., opts) where opts is argument #argn: checked and filled.
local function checked(c, s, fname, argn)
  if argn == 2 then return function(a, o) return c(a, spec.check(s, o, fname, 2)) end end
  if argn == 3 then return function(a, b, o) return c(a, b, spec.check(s, o, fname, 3)) end end
  return function(a, b, d, o) return c(a, b, d, spec.check(s, o, fname, 4)) end
end

-- The same for an `out`-only spec: verified, the caller's table passed on.
local function verified(c, s, fname, argn)
  local verify = spec.verify
  if argn == 3 then
    return function(a, b, o)
      if o ~= nil then verify(s, o, fname, 3) end
      return c(a, b, o)
    end
  end
  return function(a, b, d, o)
    if o ~= nil then verify(s, o, fname, 4) end
    return c(a, b, d, o)
  end
end

M.idx_read = checked(core.idx_read, M.IDX_READ, "hnet.idx_read", 2)
M.idx_read_labeled = checked(core.idx_read_labeled, M.IDX_READ_LABELED, "hnet.idx_read_labeled", 3)
M.idx_write = checked(core.idx_write, M.IDX_WRITE, "hnet.idx_write", 3)
M.cifar10_read = checked(core.cifar10_read, M.CIFAR10_READ, "hnet.cifar10_read", 2)

--- hnet.transform: hnet.core.transform's functions, those with options wrapped.
M.transform = {}
for k, v in pairs(core.transform) do M.transform[k] = v end
local T, CT = M.transform, core.transform
T.permute = verified(CT.permute, M.TRANSFORM.permute, "hnet.transform.permute", 3)
T.rotate = verified(CT.rotate, M.TRANSFORM.rotate, "hnet.transform.rotate", 3)
T.gather = verified(CT.gather, M.TRANSFORM.gather, "hnet.transform.gather", 3)
T.pad = verified(CT.pad, M.TRANSFORM.pad, "hnet.transform.pad", 4)
T.noise = checked(CT.noise, M.TRANSFORM.noise, "hnet.transform.noise", 4)
T.brightness_contrast = checked(CT.brightness_contrast, M.TRANSFORM.brightness_contrast,
  "hnet.transform.brightness_contrast", 2)

local function tf(name, sig, about)
  return { name = "hnet.transform." .. name, sig = sig, about = about, spec = M.TRANSFORM[name] }
end

M.HELP = {
  { name = "hnet.idx_read", sig = "hnet.idx_read(path, opts) -> tensor", spec = M.IDX_READ,
    about = "read an IDX file (plain or .gz) into a float tensor" },
  { name = "hnet.idx_read_labeled", sig = "hnet.idx_read_labeled(images, labels, opts) -> x, y",
    spec = M.IDX_READ_LABELED, about = "read an IDX image file and its label file, checked against each other" },
  { name = "hnet.idx_write", sig = "hnet.idx_write(path, tensor, opts)", spec = M.IDX_WRITE,
    about = "write a tensor as an IDX file" },
  { name = "hnet.cifar10_read", sig = "hnet.cifar10_read(path or { path, ... }, opts) -> x [n, 3, 32, 32], y",
    spec = M.CIFAR10_READ, about = "read CIFAR-10 binary batch files" },
  tf("permute", "hnet.transform.permute(x, perm, opts) -> y", "permute each sample's values (perm: 1-based)"),
  tf("rotate", "hnet.transform.rotate(x, degrees, opts) -> y", "rotate images by degrees (bilinear, zero fill)"),
  tf("pad", "hnet.transform.pad(x, height, width, opts) -> y", "zero-pad images to height x width, centred"),
  tf("gather", "hnet.transform.gather(x, idx, opts) -> y", "the rows idx (1-based) of x"),
  tf("noise", "hnet.transform.noise(x, std, rng, opts) -> y", "add N(0, std²) noise, then clamp"),
  tf("brightness_contrast", "hnet.transform.brightness_contrast(x, opts) -> y",
    "contrast * (x - sample mean) + sample mean + brightness, then clamp"),
}

return M
