"""Helper modules and whole networks, written once against a framework's `nn` and `cat`."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


def helpers(nn, cat) -> dict:
    """Small wrappers that let a one-line spec express `+`, `-`, `*`, `/`, numbers, mean,
    view, chunk/split and cat."""

    class Add(nn.Module):
        """a(x) + b(x) (b defaults to the identity)."""

        def __init__(self, a, b=None):
            super().__init__()
            self.a = a
            self.b = b if b is not None else nn.Identity()

        def forward(self, x):
            return self.a(x) + self.b(x)

    class AddInputs(nn.Module):
        def forward(self, x, y):
            return x + y

    class Cat(nn.Module):
        """cat([m(x) for m in branches], dim)."""

        def __init__(self, *branches, dim=1):
            super().__init__()
            self.branches = nn.ModuleList(branches)
            self.dim = dim

        def forward(self, x):
            return cat([m(x) for m in self.branches], dim=self.dim)

    class CatInputs(nn.Module):
        def __init__(self, dim=1):
            super().__init__()
            self.dim = dim

        def forward(self, *xs):
            return cat(list(xs), dim=self.dim)

    class Binary(nn.Module):
        """a(x) <op> b(x) for op in + - * /; b may make a channel-wise operand."""

        def __init__(self, op, a, b=None):
            super().__init__()
            self.op, self.a = op, a
            self.b = b if b is not None else nn.Identity()

        def forward(self, x):
            return BINARY[self.op](self.a(x), self.b(x))

    class BinaryInputs(nn.Module):
        def __init__(self, op):
            super().__init__()
            self.op = op

        def forward(self, x, y):
            return BINARY[self.op](x, y)

    class Scalar(nn.Module):
        """m(x) with a number: add, radd, sub, rsub, mul, rmul, div, rdiv or neg."""

        def __init__(self, op, value=0.0, m=None):
            super().__init__()
            self.op, self.value = op, value
            self.m = m if m is not None else nn.Identity()

        def forward(self, x):
            return SCALAR[self.op](self.m(x), self.value)

    class Mean(nn.Module):
        """x.mean over the spatial dims, then optionally viewed as `shape`."""

        def __init__(self, dim=(2, 3), keepdim=False, shape=None):
            super().__init__()
            self.dim, self.keepdim, self.shape = dim, keepdim, shape

        def forward(self, x):
            y = x.mean(self.dim, keepdim=self.keepdim)
            return y.view(*self.shape) if self.shape is not None else y

    class View(nn.Module):
        """x.view(*shape) (reshape=True: x.reshape), then m."""

        def __init__(self, *shape, m=None, reshape=False):
            super().__init__()
            self.shape, self.reshape = shape, reshape
            self.m = m if m is not None else nn.Identity()

        def forward(self, x):
            return self.m(x.reshape(*self.shape) if self.reshape else x.view(*self.shape))

    class SqueezeExcite(nn.Module):
        """x * sigmoid(fc2(relu(fc1(mean(x))))): a channel-wise scale computed from x."""

        def __init__(self, c, squeeze=4, gate=None):
            super().__init__()
            self.fc1 = nn.Conv2d(c, squeeze, 1)
            self.relu = nn.ReLU()
            self.fc2 = nn.Conv2d(squeeze, c, 1)
            self.gate = gate if gate is not None else nn.Sigmoid()

        def forward(self, x):
            s = x.mean((-2, -1), keepdim=True)
            return x * self.gate(self.fc2(self.relu(self.fc1(s))))

    class Pieces(nn.Module):
        """x.chunk(n, dim=1) (an int) or x.split(sizes, dim=1) (split=...), each piece through
        its branch (identity by default), concatenated in `order`."""

        def __init__(self, chunks=None, *branches, split=None, order=None):
            super().__init__()
            self.chunks, self.split, self.order = chunks, split, order
            self.branches = nn.ModuleList(branches)

        def forward(self, x):
            pieces = x.chunk(self.chunks, dim=1) if self.split is None \
                else x.split(self.split, dim=1)
            pieces = [self.branches[i](p) if i < len(self.branches) else p
                      for i, p in enumerate(pieces)]
            order = self.order or range(len(pieces))
            return cat([pieces[i] for i in order], dim=1)

    class ShuffleUnit(nn.Module):
        """ShuffleNetV2's stride-1 unit: half the channels pass, the other half go through
        1x1 conv, 3x3 depthwise conv, 1x1 conv (BN, ReLU), then a channel shuffle of 2."""

        def __init__(self, c):
            super().__init__()
            h = c // 2
            self.branch = nn.Sequential(
                nn.Conv2d(h, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU(inplace=True),
                nn.Conv2d(h, h, 3, padding=1, groups=h, bias=False), nn.BatchNorm2d(h),
                nn.Conv2d(h, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU(inplace=True))
            self.shuffle = nn.ChannelShuffle(2)

        def forward(self, x):
            x1, x2 = x.chunk(2, dim=1)
            return self.shuffle(cat([x1, self.branch(x2)], dim=1))

    return {"Add": Add, "AddInputs": AddInputs, "Cat": Cat, "CatInputs": CatInputs,
            "Binary": Binary, "BinaryInputs": BinaryInputs, "Scalar": Scalar, "Mean": Mean,
            "View": View, "SqueezeExcite": SqueezeExcite, "Pieces": Pieces,
            "ShuffleUnit": ShuffleUnit}


BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b}
SCALAR = {"add": lambda x, c: x + c, "radd": lambda x, c: c + x, "sub": lambda x, c: x - c,
          "rsub": lambda x, c: c - x, "mul": lambda x, c: x * c, "rmul": lambda x, c: c * x,
          "div": lambda x, c: x / c, "rdiv": lambda x, c: c / x, "neg": lambda x, c: -x}


# --- whole networks ------------------------------------------------------------------------
# Each builder takes a framework's (nn, cat) and returns a freshly initialised module (train
# mode, as torch); the same function builds the compiler.nn and the torch.nn network, so their
# state_dict keys, shapes and order agree. Widths are parameters: tests use small ones.


def basic_block(nn):
    """ResNet's two-conv residual block, defined for one framework."""

    class BasicBlock(nn.Module):
        def __init__(self, inplanes, planes, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)          # one module, applied twice
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or inplanes != planes:
                self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                                nn.BatchNorm2d(planes))

        def forward(self, x):
            shortcut = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + shortcut)

    return BasicBlock


def resnet18(nn, cat, num_classes=1000, width=64):
    """ResNet-18 (He et al. 2015) with torchvision's module names: stem conv7x7/2 + maxpool,
    four stages of two BasicBlocks (widths w, 2w, 4w, 8w), global average pool, fc."""
    Block = basic_block(nn)

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            planes = width
            for i, stride in enumerate((1, 2, 2, 2)):
                out = width * 2 ** i
                setattr(self, f"layer{i + 1}", nn.Sequential(Block(planes, out, stride),
                                                             Block(out, out)))
                planes = out
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.flatten = nn.Flatten()
            self.fc = nn.Linear(planes, num_classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.flatten(self.avgpool(x)))

    return ResNet()


def small_resnet(nn, cat, width=8, num_classes=10):
    """A CIFAR-sized ResNet: conv3x3 stem, blocks at w, 2w (stride 2) and 4w (stride 2)."""
    Block = basic_block(nn)
    return nn.Sequential(
        nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
        Block(width, width), Block(width, 2 * width, 2), Block(2 * width, 4 * width, 2),
        Block(4 * width, 4 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(4 * width, num_classes))


def dcgan_generator(nn, cat, nz=100, ngf=64, nc=3):
    """DCGAN's generator (Radford et al.): nz x 1 x 1 noise -> nc x 64 x 64 image."""
    layers = []
    channels = [nz, 8 * ngf, 4 * ngf, 2 * ngf, ngf]
    for i, (cin, cout) in enumerate(zip(channels, channels[1:])):
        layers += [nn.ConvTranspose2d(cin, cout, 4, 1 if i == 0 else 2, 0 if i == 0 else 1,
                                      bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]
    layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def espcn(nn, cat, upscale=3, width=64):
    """ESPCN super-resolution (Shi et al. 2016): features at low resolution, then a sub-pixel
    convolution (r^2 channels rearranged by PixelShuffle) to the r-times larger image."""
    return nn.Sequential(
        nn.Conv2d(1, width, 5, padding=2), nn.Tanh(),
        nn.Conv2d(width, width // 2, 3, padding=1), nn.Tanh(),
        nn.Conv2d(width // 2, upscale ** 2, 3, padding=1), nn.PixelShuffle(upscale))


def small_unet(nn, cat, width=8, in_channels=3, out_channels=2):
    """A two-level UNet: double conv blocks, max-pool down, bilinear (level 2) and nearest
    (level 1) upsampling, skip connections concatenated as cat([skip, up], dim=1)."""

    def double_conv(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                             nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            w = width
            self.enc1 = double_conv(in_channels, w)
            self.enc2 = double_conv(w, 2 * w)
            self.pool = nn.MaxPool2d(2)
            self.bottleneck = double_conv(2 * w, 4 * w)
            self.up2 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
            self.dec2 = double_conv(4 * w + 2 * w, 2 * w)
            self.up1 = nn.Upsample(scale_factor=2, mode="nearest")
            self.dec1 = double_conv(2 * w + w, w)
            self.head = nn.Conv2d(w, out_channels, 1)

        def forward(self, x):
            s1 = self.enc1(x)
            s2 = self.enc2(self.pool(s1))
            b = self.bottleneck(self.pool(s2))
            d2 = self.dec2(cat([s2, self.up2(b)], dim=1))
            d1 = self.dec1(cat([s1, self.up1(d2)], dim=1))
            return self.head(d1)

    return UNet()


def depthwise_separable(nn, cat, width=32, num_classes=1000):
    """MobileNet-v1-style (Howard et al. 2017): conv3x3/2 stem, then depthwise 3x3 +
    pointwise 1x1 pairs (each conv + BN + ReLU), global average pool, Linear."""
    config = [(2, 1), (4, 2), (4, 1), (8, 2), (8, 1), (16, 2), (16, 1), (32, 2), (32, 1)]
    layers = [nn.Conv2d(3, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
    cin = width
    for mult, stride in config:
        cout = width * mult // 2
        layers += [nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
                   nn.BatchNorm2d(cin), nn.ReLU(True),
                   nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]
        cin = cout
    return nn.Sequential(nn.Sequential(*layers), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(cin, num_classes))


VGG11 = [1, "M", 2, "M", 4, 4, "M", 8, 8, "M", 8, 8, "M"]


def vgg_cifar(nn, cat, width=64, num_classes=10):
    """VGG-11 with BatchNorm for 32x32 input: eight conv3x3+BN+ReLU, five max-pools down to
    1x1, then three Linear layers."""
    layers, cin = [], 3
    for v in VGG11:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, width * v, 3, padding=1), nn.BatchNorm2d(width * v),
                       nn.ReLU(inplace=True)]
            cin = width * v
    features = nn.Sequential(*layers)
    classifier = nn.Sequential(nn.Linear(cin, cin), nn.ReLU(True), nn.Linear(cin, cin),
                               nn.ReLU(True), nn.Linear(cin, num_classes))
    return nn.Sequential(OrderedDict([("features", features), ("flatten", nn.Flatten()),
                                      ("classifier", classifier)]))


def activation_zoo(nn, cat, width=8, classes=5):
    """The layers the other networks leave out: LeakyReLU, ELU, SELU, Sigmoid, AvgPool2d with
    ceil_mode and count_include_pad=False, nearest Upsample by 1.5, Dropout2d, residual adds,
    a channel concat and Softmax(dim=1) over a dense prediction."""

    class Residual(nn.Module):
        def __init__(self, c, act):
            super().__init__()
            self.conv = nn.Conv2d(c, c, 3, padding=1)
            self.act = act

        def forward(self, x):
            return x + self.act(self.conv(x))

    class Zoo(nn.Module):
        def __init__(self):
            super().__init__()
            w = width
            self.stem = nn.Sequential(nn.Conv2d(3, w, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(w), nn.LeakyReLU(0.2, inplace=True))
            self.res_elu = Residual(w, nn.ELU(alpha=0.7))
            self.pool = nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)
            self.res_selu = Residual(w, nn.SELU())
            self.drop = nn.Dropout2d(0.3)
            self.gate = nn.Sequential(nn.Conv2d(w, w, 1), nn.Sigmoid())
            self.up = nn.Upsample(scale_factor=1.5, mode="nearest")
            self.branch = nn.Sequential(nn.Conv2d(w, w, 1), nn.Tanh())
            self.head = nn.Conv2d(2 * w, classes, 3, padding=1)
            self.softmax = nn.Softmax(dim=1)

        def forward(self, x):
            x = self.res_elu(self.stem(x))
            x = self.drop(self.res_selu(self.pool(x)))
            x = x + self.gate(x)
            x = self.up(x)
            return self.softmax(self.head(cat([x, self.branch(x)], dim=1)))

    return Zoo()


@dataclass(frozen=True)
class Network:
    """A registered network: its builder, a small test configuration and the full size."""

    builder: object
    kwargs: dict                      # small widths for tests and fixtures
    shape: tuple                      # test input shape
    rtol: float                       # vs PyTorch at test size (1e-3 for deep nets)
    full_kwargs: dict = field(default_factory=dict)
    full_shape: tuple = ()            # benchmark input shape

    def build(self, nn, cat, full: bool = False):
        return self.builder(nn, cat, **(self.full_kwargs if full else self.kwargs))


NETWORKS = {
    "resnet18": Network(resnet18, dict(width=8, num_classes=10), (1, 3, 64, 64), 1e-3,
                        {}, (1, 3, 224, 224)),
    "small_resnet": Network(small_resnet, dict(width=8), (1, 3, 32, 32), 1e-4,
                            dict(width=16), (1, 3, 32, 32)),
    "dcgan_generator": Network(dcgan_generator, dict(ngf=8), (1, 100, 1, 1), 1e-4,
                               {}, (1, 100, 1, 1)),
    "espcn": Network(espcn, dict(upscale=3, width=16), (1, 1, 17, 19), 1e-4,
                     dict(upscale=3), (1, 1, 128, 128)),
    "small_unet": Network(small_unet, dict(width=8), (1, 3, 32, 24), 1e-4,
                          dict(width=32), (1, 3, 128, 128)),
    "depthwise_separable": Network(depthwise_separable, dict(width=8, num_classes=10),
                                   (1, 3, 64, 48), 1e-3, {}, (1, 3, 128, 128)),
    "vgg_cifar": Network(vgg_cifar, dict(width=8), (1, 3, 32, 32), 1e-3, {}, (1, 3, 32, 32)),
    "activation_zoo": Network(activation_zoo, dict(width=8), (1, 3, 19, 23), 1e-4,
                              dict(width=32), (1, 3, 64, 64)),
}

# One train-mode forward (batch statistics, running statistics updated): network, batch shape.
TRAIN_NETWORK = ("small_resnet", (2, 3, 32, 32))
