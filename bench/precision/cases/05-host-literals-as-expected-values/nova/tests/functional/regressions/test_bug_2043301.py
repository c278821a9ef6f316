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

from nova.tests.functional import integrated_helpers


class EvacuateThenLiveMigrateTest(
    integrated_helpers.ProviderUsageBaseTestCase
):
    """Regression test for bug 2043301."""

    compute_driver = 'fake.MediumFakeDriver'

    def setUp(self):
        super().setUp()
        self.compute1 = self._start_compute('host1')
        self.compute2 = self._start_compute('host2')
        self.compute3 = self._start_compute('host3')

    def test_live_migrate_after_evacuate(self):
        server = self._create_server(networks='none', host='host1')

        self.compute1.stop()
        self.api.put_service(
            self.compute1.service_ref.uuid, {'forced_down': True})
        server = self._evacuate_server(
            server, expected_host='host2', expected_state='ACTIVE')

        self.api.post_server_action(
            server['id'],
            {'os-migrateLive': {'host': 'host3', 'block_migration': 'auto'}})
        self._wait_for_server_parameter(
            server, {'OS-EXT-SRV-ATTR:host': 'host3', 'status': 'ACTIVE'})
