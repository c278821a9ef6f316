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

from unittest import mock

import fixtures
from oslo_utils.fixture import uuidsentinel as uuids

from nova.tests import fixtures as nova_fixtures
from nova.tests.functional import integrated_helpers


class LiveMigrateMultiCreateSiblingTest(
    integrated_helpers._IntegratedTestBase
):
    """Regression test for bug 2034567.

    Two servers are booted in a single request (min_count=2). Live migrating
    one of them used to look the request spec up by reservation id, so the
    scheduler was asked to move the sibling as well and the migration of the
    first server went to ERROR.
    """

    ADMIN_API = True
    microversion = 'latest'

    def setUp(self):
        # Make host1 the preferred target so the batch lands there.
        self.useFixture(nova_fixtures.HostNameWeigherFixture())
        super().setUp()
        self.compute1 = self._start_compute('host1')
        self.compute2 = self._start_compute('host2')
        self.mock_rt_periodic = mock.patch(
            'nova.compute.manager.ComputeManager.'
            'update_available_resource').start()
        self.useFixture(fixtures.MockPatch(
            'nova.virt.fake.FakeDriver.live_migration_abort'))

    def _boot_batch(self):
        server_req = self._build_server(
            name='lm-batch',
            image_uuid='155d900f-4e14-4e4c-a73d-069cbf4541e6',
            networks='none')
        server_req['min_count'] = 2
        server_req['max_count'] = 2
        server_req['metadata'] = {'batch': uuids.batch}
        self.api.post_server({'server': server_req})

        servers = self.api.get_servers(
            detail=True, search_opts={'name': 'lm-batch'})
        self.assertEqual(2, len(servers))
        for server in servers:
            self._wait_for_state_change(server, 'ACTIVE')
        return servers

    def test_live_migrate_one_server_of_a_batch(self):
        self._boot_batch()

        server = self.api.get_servers(
            detail=True, search_opts={'name': 'lm-batch-1'})[0]
        self.assertEqual('host1', server['OS-EXT-SRV-ATTR:host'])

        self.api.post_server_action(
            server['id'],
            {'os-migrateLive': {
                'host': 'host2', 'block_migration': 'auto'}})
        server = self._wait_for_state_change(server, 'ACTIVE')
        self._wait_for_migration_status(server, ['completed'])

        # Only the requested server moved; its sibling stayed where it was.
        self.assertEqual('host2', server['OS-EXT-SRV-ATTR:host'])
        sibling = self.api.get_servers(
            detail=True, search_opts={'name': 'lm-batch-2'})
        self.assertEqual(1, len(sibling))
        self.assertEqual(
            self.compute1.host, sibling[0]['OS-EXT-SRV-ATTR:host'])

        # Nothing was recorded against an unrelated instance.
        missing_uuid = '9b2f64c1-7d3e-4a8b-b5c6-0e1f2a3b4c5d'
        migrations = self.api.api_get(
            '/os-migrations?instance_uuid=%s' % missing_uuid
        ).body['migrations']
        self.assertEqual([], migrations)
