--- Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017): 28x28 grey images of clothing,
-- 10 classes, 60,000 training and 10,000 test images.
-- Files: data/fashion_mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz,
-- linked from Debian's dataset-fashion-mnist by `make data`.
return function(ctx, opts)
  return ctx.idx_dataset {
    n_classes = 10,
    shape = { 1, 28, 28 },
    scale = 1 / 255,
    image_type = "u8", label_type = "u8", -- as stored: another type is refused
    train = { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz" },
    test = { "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" },
    class_names = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                    "Sneaker", "Bag", "Ankle boot" },
  }
end
