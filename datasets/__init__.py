"""edlrr_bench.datasets: the suite's inputs, generated or loaded, never faked.

Installed from the repository folder ``datasets/`` as ``edlrr_bench.datasets`` (never as a
top-level ``datasets``, which would shadow the Hugging Face package).

Every dataset is described by a frozen config dataclass (name + parameters + seed) and is a
deterministic function of it (:mod:`.registry`): ``get_dataset(name, **params)``,
``load(config)``, ``config.config_id()`` / ``config.to_dict()`` for result rows.

==================== ========================================== =============================
name                 what                                       module
==================== ========================================== =============================
``spectrum``         matrices with exact chosen spectra, hard   :mod:`.synthetic`
                     cases (repeated, cond 1e6, rank 0/1)
``dlrl_synthetic``   DLRL Sec. IV-D protocol (RSRE)             :mod:`.synthetic`
``image_inpainting`` embedded scikit-image colour images +      :mod:`.images`, :mod:`.masks`
                     drop / text / block masks
``edlrr_images``     the EDLRR authors' image folder            :mod:`.authors`
                     (``$EDLRR_IMAGES``)
``synthetic_ratings`` low-rank 1..5 ratings, Table I densities  :mod:`.ratings`
``movielens``        MovieLens-format file loader               :mod:`.ratings`
``synthetic_video``  background + moving objects, true masks    :mod:`.video`
``video_frames``     folder of frames -> ``ab x t`` matrix      :mod:`.video`
==================== ========================================== =============================

Conventions: tensors are float64 by default (``dtype=`` / ``device=`` on every builder;
random draws are made on the CPU in float64 so the data do not depend on either); matrices
are ``(*, m, n)``; images are ``(3, H, W)`` in ``[0, 1]`` (the channels are a batch of
matrices); masks are bool ``(H, W)``, ``True`` = observed, shared by the channels. Scores
are in :mod:`.metrics`.

References
----------
.. [1] EDLRR: N. Li, Y. Xie, P. Liu, T. Dai, Y. Jiang and S.-T. Xia, "Efficient
   Differentiable Approximation of Generalized Low-rank Regularization", IJCAI 2025.
.. [2] DLRL: Z. Chen, J. Yao, G. Xiao and S. Wang, "Efficient and Differentiable Low-rank
   Matrix Completion with Back Propagation", IEEE TMM 2021.
"""

from ._common import CompletionProblem, DatasetConfig, derive_seed, make_generator
from .authors import (
    ENV_VAR,
    AuthorsInpaintingConfig,
    find_authors_root,
    list_authors_images,
    list_authors_masks,
    load_authors_image,
    load_authors_inpainting,
    load_authors_mask,
    resolve_authors_root,
)
from .images import (
    EMBEDDED_IMAGES,
    ImageInpaintingConfig,
    from_numpy_image,
    load_embedded_image,
    load_image_file,
    make_image_inpainting,
    resize_image,
    to_numpy_image,
)
from .masks import (
    MASK_KINDS,
    apply_mask,
    block_mask,
    make_mask,
    mask_from_image,
    missing_share,
    random_mask,
    text_mask,
)
from .metrics import (
    background_psnr,
    f_measure,
    mse,
    precision_recall,
    psnr,
    psnr_from_mse,
    psnr_missing,
    rmse,
    rsre,
    ssim,
)
from .ratings import (
    TABLE_I,
    MovieLensConfig,
    Ratings,
    RatingsDataset,
    SyntheticRatingsConfig,
    load_movielens,
    make_synthetic_ratings,
    ratings_rmse,
    read_movielens_file,
    split_ratings,
)
from .registry import (
    DatasetSpec,
    available_datasets,
    get_dataset,
    load,
    make_config,
    register_dataset,
    tiny_config,
)
from .synthetic import (
    SPECTRUM_KINDS,
    DLRLSyntheticConfig,
    SpectrumConfig,
    SyntheticMatrix,
    low_rank_matrix,
    make_dlrl_synthetic,
    make_spectrum,
    make_spectrum_matrix,
    matrix_from_spectrum,
    random_orthonormal,
)
from .video import (
    SyntheticVideoConfig,
    VideoData,
    VideoFramesConfig,
    frames_to_matrix,
    load_frames,
    make_synthetic_video,
    matrix_to_frames,
)

__all__ = [
    # registry and configs
    "DatasetConfig", "DatasetSpec", "available_datasets", "get_dataset", "load", "make_config",
    "register_dataset", "tiny_config", "derive_seed", "make_generator",
    # synthetic matrices
    "SPECTRUM_KINDS", "SpectrumConfig", "SyntheticMatrix", "DLRLSyntheticConfig", "CompletionProblem",
    "make_spectrum", "make_spectrum_matrix", "matrix_from_spectrum", "random_orthonormal",
    "low_rank_matrix", "make_dlrl_synthetic",
    # images and masks
    "EMBEDDED_IMAGES", "ImageInpaintingConfig", "load_embedded_image", "load_image_file",
    "make_image_inpainting", "resize_image", "from_numpy_image", "to_numpy_image",
    "MASK_KINDS", "random_mask", "block_mask", "text_mask", "make_mask", "mask_from_image",
    "apply_mask", "missing_share",
    # authors' folder
    "ENV_VAR", "AuthorsInpaintingConfig", "find_authors_root", "resolve_authors_root",
    "list_authors_images", "list_authors_masks", "load_authors_image", "load_authors_mask",
    "load_authors_inpainting",
    # ratings
    "TABLE_I", "Ratings", "RatingsDataset", "SyntheticRatingsConfig", "MovieLensConfig",
    "make_synthetic_ratings", "load_movielens", "read_movielens_file", "split_ratings", "ratings_rmse",
    # video
    "SyntheticVideoConfig", "VideoFramesConfig", "VideoData", "make_synthetic_video", "load_frames",
    "frames_to_matrix", "matrix_to_frames",
    # metrics
    "psnr_missing", "psnr", "psnr_from_mse", "ssim", "rsre", "mse", "rmse", "f_measure",
    "precision_recall", "background_psnr",
]
