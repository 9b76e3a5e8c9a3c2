"""Settings: ``base`` (everything from the environment) and ``test`` (the suite's safe defaults on top).

This package imports nothing itself, so ``smsportal.settings.test`` can set its defaults before ``base`` reads
the environment.
"""
