"""matae_utils: the helper package of the book *Autoencoders in materials science*.

Everything a chapter needs is reachable from one import::

    import matae_utils as mu
    df = mu.load_dataset("expt_gap")

Importing the package is fast: the submodules (and the heavy libraries they use:
torch, pymatgen, matminer, smact, ipywidgets) are imported on first attribute access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Submodules, each with one job (see the API reference of the book).
_SUBMODULES = (
    "datasets",
    "featurize",
    "microstructure",
    "xrd",
    "models",
    "losses",
    "training",
    "distributed",
    "estimators",
    "metrics",
    "plotting",
    "widgets",
    "notebook",
    "anomaly",
    "benchmark",
    "compression",
    "design",
    "interpret",
)

#: Public names re-exported at the top level -> the submodule that defines them.
_EXPORTS = {
    # datasets
    "load_dataset": "datasets",
    "load_materials_project": "datasets",
    "list_datasets": "datasets",
    "dataset_info": "datasets",
    "get_citation": "datasets",
    "deduplicate_formulas": "datasets",
    "group_train_test_split": "datasets",
    "group_kfold": "datasets",
    "reduced_formulas": "datasets",
    "DatasetIntegrityError": "datasets",
    "matbench_folds": "datasets",
    "CompositionData": "datasets",
    "prepare_compositions": "datasets",
    # featurize
    "parse_formulas": "featurize",
    "magpie_features": "featurize",
    "element_fractions": "featurize",
    "fractions_to_formula": "featurize",
    "anion_classes": "featurize",
    "ELEMENTS": "featurize",
    "magpie_citations": "featurize",
    "cache_dir": "_cache",
    "clear_cache": "_cache",
    # physics-based generators
    "cahn_hilliard": "microstructure",
    "generate_microstructures": "microstructure",
    "free_energy": "microstructure",
    "characteristic_length": "microstructure",
    "phase_fraction": "microstructure",
    "two_point_correlation": "microstructure",
    "microstructure_errors": "microstructure",
    "load_prototypes": "xrd",
    "two_theta_grid": "xrd",
    "simulate_xrd": "xrd",
    "xrd_dataset": "xrd",
    "add_xrd_noise": "xrd",
    "savgol_denoise": "xrd",
    "tune_savgol": "xrd",
    "find_xrd_peaks": "xrd",
    "match_xrd_peaks": "xrd",
    # compression (chapter 7)
    "Quantizer": "compression",
    "PCACodec": "compression",
    "AutoEncoderCodec": "compression",
    "jpeg_roundtrip": "compression",
    "rate_distortion": "compression",
    "value_at_rate": "compression",
    "code_nbytes": "compression",
    "fit_pca_codecs": "compression",
    # models and losses
    "Encoder": "models",
    "Decoder": "models",
    "AutoEncoder": "models",
    "SparseAutoEncoder": "models",
    "DenoisingAutoEncoder": "models",
    "VAE": "models",
    "ConvAutoEncoder": "models",
    "SemiSupervisedAutoEncoder": "models",
    "ConvDenoisingAutoEncoder": "models",
    "MultimodalAutoEncoder": "models",
    "CompositionVAE": "models",
    "ConvVAE": "models",
    # training
    "fit": "training",
    "History": "training",
    "get_device": "training",
    "save_checkpoint": "training",
    "load_checkpoint": "training",
    "load_pretrained": "training",
    "list_pretrained": "training",
    "pretrained_path": "training",
    "checkpoint_info": "training",
    "encode": "training",
    "decode": "training",
    "reconstruct": "training",
    # sklearn wrappers
    "AutoEncoderTransformer": "estimators",
    "VAETransformer": "estimators",
    # metrics
    "reconstruction_error": "metrics",
    "psnr": "metrics",
    "ssim": "metrics",
    "trustworthiness": "metrics",
    "knn_property_score": "metrics",
    "anomaly_metrics": "metrics",
    "compression_ratio": "metrics",
    "model_nbytes": "metrics",
    "continuity": "metrics",
    "knn_holdout_score": "metrics",
    "mutual_information_gap": "metrics",
    "factor_correlation": "metrics",
    # interpretability (chapter 10)
    "integrated_gradients": "interpret",
    "input_gradients": "interpret",
    "latent_traversal": "interpret",
    # plotting
    "plot_history": "plotting",
    "plot_latent": "plotting",
    "plot_reconstructions": "plotting",
    "plot_spectra": "plotting",
    "plot_periodic_table": "plotting",
    "plot_composition": "plotting",
    "format_space_group": "plotting",
    # widgets
    "latent_explorer": "widgets",
    "interpolation_explorer": "widgets",
    "latent_map_explorer": "widgets",
    # notebook helpers
    "in_colab": "notebook",
    "setup": "notebook",
    "set_seed": "notebook",
    "glue": "notebook",
    "expect_error": "notebook",
    "claim": "notebook",
    "format_sci": "notebook",
    # property-prediction benchmark (chapter 5)
    "PropertyNet": "benchmark",
    "NetSettings": "benchmark",
    "prepare_fold": "benchmark",
    "evaluate_fold": "benchmark",
    "cross_validate": "benchmark",
    "summarize": "benchmark",
    "learning_curve": "benchmark",
    "composition_clusters": "benchmark",
    "leave_one_cluster_out": "benchmark",
    # generative design
    "decode_compositions": "design",
    "smact_valid": "design",
    "uniqueness": "design",
    "novelty": "design",
    "n_elements": "design",
    "mean_electronegativity": "design",
    "distribution_distances": "design",
    "evaluate_generated": "design",
    "random_compositions": "design",
    "search_latent": "design",
    "nearest_known": "design",
    "abo3_site_balance": "design",
}

__all__ = ["__version__", *_SUBMODULES, *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Import submodules and re-exported names lazily (PEP 562)."""
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for static analysers only
    from . import (  # noqa: F401
        benchmark,
        compression,
        datasets,
        estimators,
        featurize,
        losses,
        metrics,
        microstructure,
        models,
        notebook,
        plotting,
        training,
        widgets,
        xrd,
    )
