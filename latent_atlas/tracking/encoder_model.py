"""The code of every variant's MLflow model (MLflow's models-from-code).

MLflow copies this file into each logged model and runs it whenever the model
is logged or loaded (mlflow.pyfunc.load_model, `mlflow models serve`): it
hands MLflow the model object, instead of a pickle. The model itself, and the
checks it makes, are tracking.models.LatentEncoder, from the installed project.
Nothing else imports this file.
"""

import mlflow

from latent_atlas.tracking.models import LatentEncoder

mlflow.models.set_model(LatentEncoder())
