"""An integrator's first steps with the generated Python client (`make clients`): get a
token, create a customer with a contact, page through customers, handle a 422.

    RAPPORT_URL=http://127.0.0.1:8080 RAPPORT_EMAIL=admin@example.com \
    RAPPORT_PASSWORD=... python tests/clients/quickstart.py

CI runs it against a fresh server; it exits non-zero on anything unexpected.
"""

import os
import sys

from rapport_api_client import AuthenticatedClient, Client
from rapport_api_client.api.auth import issue_token
from rapport_api_client.api.customers import create_customer, list_customers
from rapport_api_client.models import (
    CreateContact,
    CreateCustomer,
    CustomerKind,
    EmailBody,
    PhoneBody,
    Problem,
    TokenRequest,
)
from rapport_api_client.types import UNSET

base_url = os.environ.get("RAPPORT_URL", "http://127.0.0.1:8080")

# 1. A token (an integration would use grant_type="client_credentials").
anonymous = Client(base_url=base_url)
token = issue_token.sync(
    client=anonymous,
    body=TokenRequest(
        grant_type="password",
        username=os.environ["RAPPORT_EMAIL"],
        password=os.environ["RAPPORT_PASSWORD"],
    ),
)
if isinstance(token, Problem) or token is None:
    sys.exit(f"no token: {token}")
api = AuthenticatedClient(base_url=base_url, token=token.access_token)

# 2. A customer with a contact; the phone is answered in E.164.
created = create_customer.sync(
    client=api,
    body=CreateCustomer(
        name="深圳张氏科技有限公司",
        kind=CustomerKind.ENTERPRISE,
        contacts=[
            CreateContact(
                first_name="伟",
                last_name="王",
                emails=[EmailBody(address="wang.wei@example.cn")],
                phones=[PhoneBody(number="+86 138 0013 8000")],
            )
        ],
    ),
)
if isinstance(created, Problem) or created is None:
    sys.exit(f"not created: {created}")
phone = created.contacts[0].phones[0].number
assert phone == "+8613800138000", phone
print(f"created {created.id} with contact {created.contacts[0].id} ({phone})")
create_customer.sync(client=api, body=CreateCustomer(name="Northwind Traders"))

# 3. Every customer, a page at a time.
seen, pages, cursor = 0, 0, UNSET
while True:
    page = list_customers.sync(client=api, limit=1, cursor=cursor)
    if isinstance(page, Problem) or page is None:
        sys.exit(f"no page: {page}")
    seen, pages = seen + len(page.data), pages + 1
    if not page.next_cursor:
        break
    cursor = page.next_cursor
print(f"paged through {seen} customers in {pages} pages")
assert seen == pages >= 2, (seen, pages)

# 4. Bad input: a 422 problem naming each field.
refused = create_customer.sync_detailed(
    client=api,
    body=CreateCustomer(
        name="",
        contacts=[CreateContact(first_name="Li", emails=[EmailBody(address="not-an-email")])],
    ),
)
problem = refused.parsed
assert refused.status_code == 422, refused.status_code
assert isinstance(problem, Problem), problem
fields = sorted(e.field for e in problem.errors)
print(f"422 {problem.code}: {fields}")
assert problem.code == "validation_failed"
assert fields == ["contacts[0].emails[0].address", "name"], fields
print("quickstart passed")
