"""The generators whose fakes the pipeline makes: layers, losses, builders and one resumable trainer."""
