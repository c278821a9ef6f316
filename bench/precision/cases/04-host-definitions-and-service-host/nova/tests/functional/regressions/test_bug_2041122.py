# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

from nova.tests import fixtures as nova_fixtures
from nova.tests.functional import integrated_helpers


class ColdMigrateToDisabledHostTest(
    integrated_helpers.ProviderUsageBaseTestCase
):
    """Regression test for bug 2041122."""

    compute_driver = 'fake.MediumFakeDriver'

    def setUp(self):
        self.useFixture(nova_fixtures.HostNameWeigherFixture())
        super().setUp()
        self.src = self.start_service('compute', host='host1')
        self.dest = self._start_compute(host='host2')
        self._start_compute('host3')

    def test_cold_migrate_skips_disabled_host(self):
        server = self._create_server(networks='none')
        self.assertEqual(self.src.host, server['OS-EXT-SRV-ATTR:host'])

        self.api.put_service(
            self.dest.service_ref.uuid, {'status': 'disabled'})
        server = self._migrate_server(server)

        self.assertEqual('host3', server['OS-EXT-SRV-ATTR:host'])
        self._confirm_resize(server)
