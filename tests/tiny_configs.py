"""Tiny configurations of each experiment: seconds per run, for end-to-end tests of the harness."""

TINY = {
    "completion": """
[completion]
images = ["astronaut"]
size = 24
reps = 1
masks = [{ mask = "drop", drop = 0.5 }, { mask = "text" }]
methods = ["EDLRR nuclear", "EDLRR T-gamma", "EDLRR-fast nuclear", "SVD-autograd nuclear", "SVT"]
[completion.overrides]
edlrr = { steps = 20, step_size = 10, options = { probes = 8, pinv_iters = 5, sqrt_iters = 5 } }
svd-autograd = { steps = 20, step_size = 10 }
svt = { max_iter = 20 }
""",
    "recovery": """
[recovery]
reps = 1
[recovery.synthetic]
m = 30
n = 30
rank = 3
sigma = 0.1
unobserved = 0.3
p = 0.5
p_values = [0.5]
sigmas = [0.05]
unobserved_shares = [0.2]
methods = ["IRNN", "SVT"]
[recovery.images]
names = ["chelsea"]
size = 24
p = 0.5
dlrl_d = 8
masks = [{ mask = "drop", drop = 0.4 }]
methods = ["IRNN"]
[recovery.overrides]
irnn = { max_iter = 10 }
svt = { max_iter = 20 }
""",
    "ratings": """
[ratings]
reps = 1
methods = ["SVT", "SVD-autograd nuclear"]
synthetic = [{ users = 40, items = 50, rank = 2, density = 0.3, noise = 0.1 }]
[ratings.overrides]
svt = { max_iter = 20 }
svd-autograd = { steps = 20, step_size = 10 }
""",
    "video": """
[video]
reps = 1
threshold = 0.1
methods = ["RPCA-IALM", "EDLRR nuclear"]
videos = [{ background = "coffee", height = 12, width = 16, frames = 8, objects = 1 }]
[video.overrides]
edlrr-rpca = { steps = 20, options = { probes = 8, pinv_iters = 5, sqrt_iters = 5 } }
""",
    "denoise": """
[denoise]
reps = 1
sigma_train = 25
sigmas_test = [15, 25]
train_size = 48
test_size = 48
depth = 3
features = 4
steps = 4
batch = 2
patch = 16
lr = 1e-3
lam = 1e-4
probes = 2
""",
    "fast": """
[fast.speed]
sizes = [96]
spectra = ["gaussian", "power"]
methods = ["fast", "fast-rational"]
seeds = 2
paired = ["fast"]
[fast.xtrace]
n = 90
spectra = ["flat", "rank20"]
functionals = ["rank", "nuclear"]
seeds = 2
[fast.xtrace.budgets]
"budget-100 A" = { sketch = 30, power_iters = 0, probes = 2, lanczos_steps = 10 }
[fast.xtrace.grid]
budget = 60
slack = 20
seeds = 1
sketch = [10]
power_iters = [0]
probes = [2]
lanczos_steps = [5, 10]
[fast.pareto]
sizes = [96]
spectra = ["power"]
seeds = 2
paper_probes = [8]
paper_iters = [5]
fast_probes = [4]
fast_sketch = [16]
fast_steps = [5]
[fast.released]
image = "astronaut"
size = 24
seeds = 1
[fast.crossover]
sizes = [64]
dtypes = ["float64", "float32"]
reps = 1
[fast.dtype]
sizes = [400]
spectra = ["power"]
methods = ["fast", "fast-rational"]
seeds = 2
[fast.penalty]
images = ["astronaut"]
size = 96
seeds = 1
penalties = [["laplace", 1.0]]
""",
}
