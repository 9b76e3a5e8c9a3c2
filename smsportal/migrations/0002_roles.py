from django.db import migrations

ROLE_APP_PERMISSIONS = {
    "Marketer": {"contacts": "all", "campaigns": "all", "providers": "view", "smsportal": "view"},
    "Approver": {"contacts": "all", "campaigns": "all", "providers": "view", "smsportal": "view"},
    "Operator": {"contacts": "all", "campaigns": "all", "providers": "all", "smsportal": "all", "auth": "all"},
}


def create_roles(apps, schema_editor):
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    for config in global_apps.get_app_configs():
        original = config.models_module
        config.models_module = original or True
        try:
            create_permissions(config, verbosity=0, apps=apps)
        finally:
            config.models_module = original
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, app_perms in ROLE_APP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for app_label, level in app_perms.items():
            qs = Permission.objects.filter(content_type__app_label=app_label)
            if level == "view":
                qs = qs.filter(codename__startswith="view_")
            group.permissions.add(*qs)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_APP_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("smsportal", "0001_initial"),
        ("contacts", "0001_initial"),
        ("providers", "0001_initial"),
        ("campaigns", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
