"""One-line hooks into training libraries that write an ibviewer run while a model trains.

- :mod:`ibviewer.integrations.lightning`: ``IBViewerCallback``, a PyTorch Lightning ``Callback``;
- :mod:`ibviewer.integrations.transformers`: ``IBViewerTrainerCallback``, a transformers
  ``TrainerCallback``.

Both save through :class:`~ibviewer.core.recorder.Recorder`: epoch 0 is the weights before
training, epoch E the weights after E epochs, with the metrics the library logged by then.
Importing this package imports neither library; importing one of its modules needs that
library installed.
"""
