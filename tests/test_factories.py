"""Every model of ours has a factory in tests/factories.py, and each factory builds a valid saved row."""

import factory
import pytest
from django.apps import apps

import tests.factories as factories

FACTORIES = [
    v
    for v in vars(factories).values()
    if isinstance(v, type) and issubclass(v, factory.django.DjangoModelFactory) and v._meta.model is not None
]


def test_every_model_has_a_factory():
    covered = {f._meta.model for f in FACTORIES}
    missing = [
        m._meta.label
        for label in ("smsportal", "contacts", "providers", "campaigns")
        for m in apps.get_app_config(label).get_models()
        if m not in covered
    ]
    assert missing == []


@pytest.mark.django_db
@pytest.mark.parametrize("factory_class", FACTORIES, ids=lambda f: f.__name__)
def test_factory_creates_a_valid_row(factory_class):
    obj = factory_class()
    assert obj.pk is not None
    obj.full_clean(validate_unique=False, exclude=["file", "password"])
