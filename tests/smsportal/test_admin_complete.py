"""The Django admin lists every model of ours, and every changelist and add page renders."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

OUR_APPS = ("smsportal", "contacts", "providers", "campaigns")


def our_models():
    return [m for label in OUR_APPS for m in apps.get_app_config(label).get_models()]


@pytest.mark.parametrize("model", our_models(), ids=lambda m: m._meta.label)
def test_every_model_is_registered(model):
    assert admin.site.is_registered(model), f"{model._meta.label} is missing from the Django admin"


@pytest.mark.django_db
@pytest.mark.parametrize("model", our_models(), ids=lambda m: m._meta.label)
def test_changelist_renders(client, django_user_model, model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123456")
    client.force_login(user)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    resp = client.get(url)
    assert resp.status_code == 200, url
