"""Modal dialogs of the workbench (the New-project dialog); their flow logic lives in :mod:`app.presenters`."""
