"""The search: space and model options, objectives, pruners, Optuna storages and studies, the HPO loop and the
selection of the best trial. Imports evaluation and the layers below."""
