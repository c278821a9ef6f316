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


class ServerGroupMemberCountTest(integrated_helpers._IntegratedTestBase):
    """Regression test for bug 2049911."""

    ADMIN_API = True
    microversion = 'latest'

    def test_member_count_after_delete(self):
        group = self.api.post_server_groups(
            {'name': 'grp', 'policy': 'anti-affinity'})
        server = self._create_server(networks='none')
        self._delete_server(server)

        self.admin_api.microversion = "latest"
        group = self.api.get_server_group(group['id'])
        self.assertEqual([], group['members'])
