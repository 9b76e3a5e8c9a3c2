from .models import WorkspaceSettings


def workspace(request):
    return {"workspace": WorkspaceSettings.load()}
