"""The contacts table filter. A saved segment is this filter's parameters, so a segment selects exactly what the
table showed when it was saved (``selectors.segment_contacts``)."""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.utils import timezone

from smsportal.tables import HtmxFilterSet

from . import selectors
from .models import Contact, ContactList, Group


class ContactFilter(HtmxFilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search phone, name or any field")
    status = django_filters.ChoiceFilter(choices=Contact.Status.choices, empty_label="Any status", label="Status")
    group = django_filters.ModelChoiceFilter(
        queryset=Group.objects.all(), method="filter_group", empty_label="Any group", label="Group"
    )
    list = django_filters.ModelChoiceFilter(
        queryset=ContactList.objects.all(), method="filter_list", empty_label="Any list", label="List"
    )
    created_after = django_filters.DateFilter(method="filter_created_after", label="Created from")
    created_before = django_filters.DateFilter(method="filter_created_before", label="Created until")
    country = django_filters.CharFilter(method="filter_country", label="Country", max_length=2)

    class Meta:
        model = Contact
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form.fields["country"].widget.attrs.update({"placeholder": "e.g. SE", "size": 4})
        for name in ("created_after", "created_before"):
            self.form.fields[name].widget = forms.DateInput(
                attrs={"type": "date", "class": "form-control form-control-sm"}
            )

    def filter_q(self, queryset, name, value):
        return selectors.contacts_matching(queryset, value)

    def filter_group(self, queryset, name, value):
        return selectors.in_group(queryset, value) if value else queryset

    def filter_list(self, queryset, name, value):
        return selectors.in_list(queryset, value) if value else queryset

    @staticmethod
    def _day_start(day: dt.date) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_current_timezone())

    def filter_created_after(self, queryset, name, value):
        return queryset.filter(created_at__gte=self._day_start(value)) if value else queryset

    def filter_created_before(self, queryset, name, value):
        return queryset.filter(created_at__lt=self._day_start(value + dt.timedelta(days=1))) if value else queryset

    def filter_country(self, queryset, name, value):
        return queryset.filter(country=value.strip().upper()) if value and value.strip() else queryset
