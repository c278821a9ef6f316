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


class ShelveOffloadedListingTest(integrated_helpers._IntegratedTestBase):
    """Regression test for bug 2047730."""

    ADMIN_API = True

    def test_shelved_offloaded_server_listed_once(self):
        created = self._create_server(name='shelved', networks='none')
        self._shelve_server(created)

        server = self.api.get_servers(
            detail=True, search_opts={'name': 'shelved'})[0]
        self.assertEqual('SHELVED_OFFLOADED', server['status'])

    def test_deleted_filter(self):
        created = self._create_server(name='gone', networks='none')
        self._delete_server(created)

        deleted = self.api.get_servers(search_opts={'deleted': True})
        self.assertEqual(created['id'], deleted[0]['id'])
