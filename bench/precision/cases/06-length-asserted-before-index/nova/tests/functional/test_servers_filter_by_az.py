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

from testtools import matchers

from nova.tests.functional import integrated_helpers


class ServersFilterByAZTest(integrated_helpers._IntegratedTestBase):

    def test_filter_by_availability_zone(self):
        self._create_server(name='in-az', az='nova')

        servers = self.api.get_servers(
            search_opts={'availability_zone': 'nova'})
        self.assertEqual(1, len(servers))
        self.assertEqual('in-az', servers[0]['name'])

    def test_filter_by_name_detail(self):
        self._create_server(name='detailed')

        found = self.api.get_servers(
            detail=True, search_opts={'name': 'detailed'})
        self.assertThat(found, matchers.HasLength(1))
        server = found[0]
        self.assertEqual('ACTIVE', server['status'])

    def test_all_servers_active(self):
        for name in ('a', 'b'):
            self._create_server(name=name)

        for server in self.api.get_servers(detail=True):
            self.assertEqual('ACTIVE', server['status'])
