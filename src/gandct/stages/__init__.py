"""The pipeline's stages, one module per `dvc.yaml` stage and named as it is: each reads its params, does one
job and writes its outputs. Run one as `gandct <stage>` or `python -m gandct.stages.<stage>`."""
