"""Published numbers, copied from the papers' tables, for side-by-side comparison only.

These are the papers' claims (inputs to the verdicts), never results of this suite. Each entry
names its source table.
"""
from __future__ import annotations

# EDLRR (Li et al., IJCAI 2025), Table 1: image inpainting, PSNR (dB) on the missing pixels,
# mean +- std (the paper does not say over what; stds of 0.01-0.19 dB point to repeated runs rather
# than different images), and seconds per image (RTX 3080 Ti).
EDLRR_TABLE1_COLUMNS = ["nuclear", "T-gamma", "T-Lap", "L-gamma", "L-Lap", "IRNN", "DLRL"]
EDLRR_TABLE1 = {
    # mask: {method: (mean, std or None)}
    "drop20": {"nuclear": (37.09, 0.18), "T-gamma": (38.44, 0.07), "T-Lap": (38.41, 0.14),
               "L-gamma": (38.39, 0.16), "L-Lap": (38.47, 0.11), "IRNN": (28.33, None), "DLRL": (35.99, None)},
    "drop30": {"nuclear": (35.03, 0.10), "T-gamma": (36.24, 0.13), "T-Lap": (36.01, 0.19),
               "L-gamma": (36.19, 0.13), "L-Lap": (36.20, 0.13), "IRNN": (28.51, None), "DLRL": (34.58, None)},
    "drop40": {"nuclear": (33.09, 0.05), "T-gamma": (34.28, 0.19), "T-Lap": (34.16, 0.18),
               "L-gamma": (34.21, 0.07), "L-Lap": (34.22, 0.15), "IRNN": (27.52, None), "DLRL": (33.58, None)},
    "drop50": {"nuclear": (31.39, 0.09), "T-gamma": (32.51, 0.19), "T-Lap": (32.31, 0.15),
               "L-gamma": (32.32, 0.11), "L-Lap": (32.38, 0.09), "IRNN": (26.91, None), "DLRL": (32.43, None)},
    "block": {"nuclear": (17.89, 0.01), "T-gamma": (31.14, 0.02), "T-Lap": (29.67, 0.03),
              "L-gamma": (24.64, 0.01), "L-Lap": (25.80, 0.02), "IRNN": (25.46, None), "DLRL": (30.82, None)},
    "text": {"nuclear": (26.73, 0.02), "T-gamma": (35.07, 0.06), "T-Lap": (34.99, 0.03),
             "L-gamma": (34.97, 0.05), "L-Lap": (34.98, 0.01), "IRNN": (26.20, None), "DLRL": (37.19, None)},
}
EDLRR_TABLE1_TIME_S = {"nuclear": 4.35, "T-gamma": 3.83, "T-Lap": 3.88, "L-gamma": 3.83, "L-Lap": 3.86,
                       "IRNN": 8.82, "DLRL": 494.46}

# DLRL (Chen et al., TMM 2021), Table II: image recovery PSNR (dB, their eq. 49), mean (std) over
# 10 runs on their images (a)-(d) with a random 40% mask and (e)-(f) with a text mask.
DLRL_TABLE2 = {
    "IRNN": [26.81, 23.22, 28.80, 27.88, 27.48, 21.81],
    "DLRL": [29.79, 23.68, 29.57, 29.09, 28.20, 25.87],
}

# DLRL Table III: test RMSE (80/20 split, 10 runs) on MovieLens; the release prints the MSE
# under the name "RMSE" (see baselines/dlrl.py), so which of the two these are is unclear.
DLRL_TABLE3 = {
    "movielens-100k": {"IRNN": 0.9387, "DLRL": 0.8892},
    "movielens-1m": {"IRNN": 0.9304, "DLRL": 0.8315},
}

# DLRL Table III in full: test RMSE, mean (standard deviation in % of the mean), 10 runs, per data set and
# method; "-" in the paper (TNNR not run) is None.
DLRL_TABLE3_DATASETS = ["filmtrust", "netflix", "amazon_music", "movielens-100k", "movielens-1m", "epinions"]
DLRL_TABLE3_FULL = {
    "TNNR": [(1.1617, 0.82), (1.0134, 0.35), None, (0.9878, 0.25), None, None],
    "IRNN": [(1.0016, 1.01), (0.9796, 0.23), (1.7157, 0.98), (0.9387, 0.44), (0.9304, 0.68), (1.9780, 0.95)],
    "GPG": [(1.0194, 1.13), (0.9452, 0.29), (1.9862, 1.43), (0.9489, 0.31), (0.9341, 0.45), (1.6669, 0.84)],
    "MSS": [(0.8106, 1.08), (0.9496, 0.38), (0.9187, 0.86), (0.9505, 0.28), (0.8719, 0.33), (1.1671, 0.71)],
    "sRGCNN": [(0.7964, 1.11), (0.8984, 0.37), (0.9214, 0.78), (0.9271, 0.33), (0.8815, 0.42), (1.1923, 0.88)],
    "DNNR": [(0.9425, 0.94), (0.9629, 0.26), (1.6481, 1.21), (0.9507, 0.41), (0.9716, 0.49), (1.7157, 0.92)],
    "FNNM": [(1.1948, 1.23), (0.9697, 0.31), (1.8845, 1.06), (0.9935, 0.37), (0.9691, 0.51), (1.8324, 0.88)],
    "ISVTA": [(1.1095, 0.97), (1.0111, 0.29), (1.8157, 1.24), (0.9846, 0.31), (0.9349, 0.42), (1.7649, 0.92)],
    "DLRL": [(0.7429, 0.87), (0.9083, 0.33), (0.8822, 0.87), (0.8892, 0.20), (0.8315, 0.41), (1.1587, 0.78)],
}

# Not a paper's table: the DLRL authors' released code run on MovieLens-100K (d = 20, five blocks with p_i = 1,
# eta_0 = 0.1, 300 epochs, lr 0.01, seed 2020, its own 80/20 split) prints "Test RMSE: 0.8753", which is the mean
# squared error; its root, the true test RMSE, is 0.9356 (recorded with the data: ml-100k/README.md).
DLRL_RELEASE_ML100K_MSE = 0.8753
DLRL_RELEASE_ML100K_RMSE = 0.9356
