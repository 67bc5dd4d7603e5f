"""Admin pages for applications: /admin/apps (the "admin" blueprint, shared with resources).

The rules are those of the JSON API (`oauth.manage.apps`). A new secret is shown once:
the POST that makes it keeps it encrypted (`oauth.manage.shown_once`) and redirects, and
the GET that follows shows it and forgets it, so a reload neither shows nor mints one.
Deleting a secret asks first and says which tokens stop working.
"""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from wtforms import (
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)

from models import Client, ClientSecret
from oauth.errors import error_page
from oauth.manage import apps, shown_once
from oauth.manage.pages import admin as bp
from oauth.manage.pages import attach_problems
from oauth.session import admin_required, client_ip, current_session

GRANT_LABELS = {
    "authorization_code": "Authorization code (with PKCE)",
    "refresh_token": "Refresh token",
    "client_credentials": "Client credentials (machine to machine; confidential only)",
    apps.DEVICE_CODE: "Device authorization (RFC 8628)",
}


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class AppForm(FlaskForm):
    name = StringField("Name")
    client_type = SelectField(
        "Client type",
        choices=[
            SelectChoice("confidential", "Confidential: a server that can keep a secret"),
            SelectChoice("public", "Public: browser, mobile or CLI app (PKCE, no secret)"),
        ],
    )
    token_endpoint_auth_method = SelectField(
        "Token endpoint authentication",
        choices=[
            SelectChoice("", "Default (client_secret_basic; none for public clients)"),
            SelectChoice("client_secret_basic", "client_secret_basic (HTTP Basic)"),
            SelectChoice("client_secret_post", "client_secret_post (in the form body)"),
            SelectChoice("none", "none (public clients)"),
        ],
    )
    application_type = SelectField(
        "Application type (OIDC Registration §2)",
        default="",
        choices=[
            SelectChoice("", "Not declared: web, but loopback and private-use redirects allowed"),
            SelectChoice("web", "web: https redirect URIs on a public host only"),
            SelectChoice("native", "native: loopback http, private-use schemes or https"),
        ],
    )
    id_token_signed_response_alg = SelectField(
        "id_token signature (OIDC Registration §2 id_token_signed_response_alg)",
        default="RS256",
        choices=[
            SelectChoice("RS256", "RS256: RSA, what every OpenID library accepts (default)"),
            SelectChoice("ES256", "ES256: ECDSA P-256, smaller and faster to sign"),
        ],
        validate_choice=False,  # the one validator (rules/client_metadata.py) decides
    )
    redirect_uris = TextAreaField("Redirect URIs, one per line")
    grant_types = CheckboxesField(
        "Grant types", choices=[SelectChoice(*item) for item in GRANT_LABELS.items()]
    )
    scope = StringField("Allowed scopes (space-separated; empty allows every known scope)")
    logo_uri = StringField("Logo URL (https)")
    client_uri = StringField("Homepage (https)")

    def payload(self) -> dict:
        """The form as an app payload for apps.validate_app()."""
        lines = (self.redirect_uris.data or "").splitlines()
        return {
            "name": self.name.data,
            "client_type": self.client_type.data,
            "token_endpoint_auth_method": self.token_endpoint_auth_method.data,
            "redirect_uris": [line.strip() for line in lines if line.strip()],
            "grant_types": self.grant_types.data or [],
            "scope": self.scope.data or "",
            "logo_uri": self.logo_uri.data,
            "client_uri": self.client_uri.data,
            "application_type": self.application_type.data or None,
            "id_token_signed_response_alg": self.id_token_signed_response_alg.data,
        }

    def load(self, client: Client) -> None:
        """Fill the form from a stored app (GET of the edit page)."""
        for field, value in apps.app_fields(client).items():
            self[field].data = value
        self.redirect_uris.data = "\n".join(client.redirect_uris)
        self.application_type.data = self.application_type.data or ""

    def checked(self) -> dict | None:
        """The clean payload, or None after attaching every problem to its field."""
        clean, problems = apps.validate_app(self.payload())
        attach_problems(self, problems, self.name)
        return None if problems else clean


def get_app_or_404(client_id: str) -> Client:
    client = Client.by_client_id(client_id)
    if client is None:
        abort(404)
    return client


def show_secret_once(client: Client, value: str | None):
    """Redirect (303) to the app page, which shows `value` (a new secret) once."""
    if value is not None:
        shown_once.keep(value, current_session(), client)
    return redirect(url_for("admin.app_page", client_id=client.client_id), 303)


@bp.get("/apps")
@admin_required
def app_list():
    q = request.args.get("q", "").strip()
    vetted = request.args.get("vetted", "")
    trust = {"yes": True, "no": False}.get(vetted)
    rows, count = apps.find_apps(q, limit=200, vetted=trust)
    vetted = vetted if trust is not None else ""
    return render_template("admin/apps.html", clients=rows, count=count, q=q, vetted=vetted)


@bp.route("/apps/new", methods=["GET", "POST"])
@admin_required
def app_new():
    form = AppForm()
    if request.method == "GET":
        form.grant_types.data = list(apps.DEFAULT_GRANT_TYPES)
    elif form.validate_on_submit() and (clean := form.checked()) is not None:
        client, secret = apps.create_client(clean, g.actor.username, client_ip(), vetted=True)
        return show_secret_once(client, secret)
    return render_template("admin/app_form.html", form=form, client=None)


@bp.get("/apps/<client_id>")
@admin_required
def app_page(client_id: str):
    """The app, its endpoints and secrets; a secret made just before is shown this once."""
    client = get_app_or_404(client_id)
    new_secret = shown_once.take(current_session(), client)
    response = current_app.make_response(
        render_template(
            "admin/app.html",
            client=client,
            secrets=list(client.secrets.order_by(ClientSecret.id)),
            new_secret=new_secret,
            endpoints=apps.endpoints(current_app.config["ISSUER"]),
            documents=apps.documents(current_app.config["ISSUER"]),
        )
    )
    if new_secret is not None:
        response.headers["Cache-Control"] = "no-store"  # never from a cache or back button
    return response


@bp.route("/apps/<client_id>/edit", methods=["GET", "POST"])
@admin_required
def app_edit(client_id: str):
    client = get_app_or_404(client_id)
    form = AppForm()
    if request.method == "GET":
        form.load(client)
    elif form.validate_on_submit() and (clean := form.checked()) is not None:
        changes = apps.update_client(client, clean, g.actor.username, client_ip())
        flash("Saved." if changes else "Nothing changed.", "success")
        return redirect(url_for("admin.app_page", client_id=client.client_id))
    return render_template("admin/app_form.html", form=form, client=client)


@bp.post("/apps/<client_id>/vet")
@admin_required
def app_vet(client_id: str):
    """An administrator vouches for a self-registered app (audited)."""
    client = get_app_or_404(client_id)
    if apps.vet_client(client, g.actor.username, client_ip()):
        flash(f"{client.name} is now vetted.", "success")
    return redirect(url_for("admin.app_page", client_id=client.client_id))


@bp.post("/apps/<client_id>/secrets")
@admin_required
def secret_new(client_id: str):
    """Generate a secret; the app page this redirects to shows it, once."""
    client = get_app_or_404(client_id)
    try:
        _, value = apps.create_secret(client, g.actor.username, client_ip())
    except apps.AppError as error:
        return error_page("No secret for this app", error.message, 400)
    return show_secret_once(client, value)


@bp.route("/apps/<client_id>/secrets/<int:secret_id>/delete", methods=["GET", "POST"])
@admin_required
def secret_delete(client_id: str, secret_id: int):
    """Ask first (GET: which tokens stop working); POST deletes and revokes them."""
    client = get_app_or_404(client_id)
    row = ClientSecret.get_or_none(ClientSecret.id == secret_id, ClientSecret.client == client)
    if row is None:
        abort(404)
    if request.method == "GET":
        others = client.secrets.where(ClientSecret.id != row.id).count()
        return render_template(
            "admin/secret_delete.html",
            client=client,
            secret=row,
            grants=apps.live_grants_of_secret(row),
            others=others,
        )
    apps.delete_secret(row, g.actor.username, client_ip())
    flash(f"Deleted the secret ending in {row.last6}; its tokens no longer work.", "success")
    return redirect(url_for("admin.app_page", client_id=client.client_id), 303)


@bp.route("/apps/<client_id>/delete", methods=["GET", "POST"])
@admin_required
def app_delete(client_id: str):
    """Ask first; deleting an app ends every token it holds."""
    client = get_app_or_404(client_id)
    if request.method == "GET":
        return render_template("admin/app_delete.html", client=client)
    apps.delete_client(client, g.actor.username, client_ip())
    flash(f"Deleted {client.name}.", "success")
    return redirect(url_for("admin.app_list"))
