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

from oslo_utils.fixture import uuidsentinel as uuids

from nova import context
from nova.scheduler import host_manager
from nova import test


class HostStateCacheTestCase(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.ctxt = context.get_admin_context()
        self.mock_get_all = mock.patch(
            'nova.objects.ComputeNodeList.get_all').start()
        mock.patch.object(
            host_manager.HostManager, '_init_instance_info').start()
        self.manager = host_manager.HostManager()

    def test_cache_keyed_by_node_uuid(self):
        self.mock_get_all.return_value = []
        states = self.manager.get_all_host_states(self.ctxt)
        self.assertEqual([], list(states))
        self.assertNotIn(uuids.node, self.manager.host_state_map)
