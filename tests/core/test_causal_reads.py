"""core/causal_reads.py off a cluster: a server that is not a Galera node is asked once and gets no wait
(tests/cluster/test_causal_reads.py shows the wait on a cluster)."""

import pytest
from django.db import connection

from core.causal_reads import is_galera_node

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(connection.vendor != "mysql", reason="MariaDB/MySQL only: elsewhere nothing is asked")
def test_a_mariadb_without_wsrep_is_not_a_galera_node_and_is_asked_once_per_connection(api):
    assert api.get("/api/v4/backpack").status_code == 200
    asked = connection.galera_node

    assert asked == (connection.connection, False)
    assert api.get("/api/v4/backpack").status_code == 200
    assert connection.galera_node is asked
    assert is_galera_node(connection) is False
